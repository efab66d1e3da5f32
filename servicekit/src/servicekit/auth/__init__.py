"""OAuth 2 with Microsoft Entra ID: token validation, the spec's security hooks, dev login, outbound app tokens."""

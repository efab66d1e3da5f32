// What any servicekit service's Swagger UI wants, as a Swagger UI plugin (https://swagger.io/docs/open-source-tools/swagger-ui/customization/plugin-api/):
// - the Authorize dialog leads with the login that works here: Entra ID when a client is configured,
//   else the pasted bearer token;
// - "Clear" clears the parameters too, not only the response;
// - fn.apiUrl(path): where the API's `path` is (under the same prefix as the spec, behind a proxy);
// - fn.currentToken() and fn.saveExactly(): the caller's token, and a download saved byte for byte under the
//   server's file name (Swagger UI's own "Download file" decodes the body as text, dropping a byte-order mark).
(function () {
  "use strict";

  function currentToken(system) {
    const authorized = system.authSelectors.authorized();
    if (!authorized) {
      return null;
    }
    for (const [, scheme] of authorized.entrySeq()) {
      const token = scheme.getIn(["token", "access_token"]) || scheme.get("value");
      if (token) {
        return token;
      }
    }
    return null;
  }

  function fileName(response, fallback) {
    const disposition = response.headers.get("Content-Disposition") || "";
    const match = /filename="?([^";]+)"?/.exec(disposition);
    return match ? match[1].split(/[\\/]/).pop() : fallback;
  }

  // The response's bytes as the server sent them (the browser undoes only the Content-Encoding), saved
  // under its Content-Disposition name. Resolves to {ok, status, name, detail}.
  async function saveExactly(url, token, fallbackName) {
    const response = await fetch(url, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
    if (!response.ok) {
      const problem = await response.json().catch(() => ({}));
      return { ok: false, status: response.status, detail: problem.detail || response.statusText };
    }
    const blob = await response.blob();
    const name = fileName(response, fallbackName);
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60000);
    return { ok: true, status: response.status, name, bytes: blob.size };
  }

  function ServicePlugin(options) {
    const preferred = options.oauthConfigured ? "oauth2" : "http";
    return function (system) {
      return {
        fn: {
          apiUrl: (path) => options.apiBase + path,
          currentToken: () => currentToken(system),
          saveExactly,
        },
        statePlugins: {
          auth: {
            wrapSelectors: {
              definitionsToAuthorize: (original) => (...args) => {
                const definitions = original(...args);
                return definitions.sortBy((definition) => (definition.first().get("type") === preferred ? 0 : 1));
              },
            },
          },
          spec: {
            wrapActions: {
              clearRequest: (original, sys) => (path, method) => {
                // The spec's own parameters, by which Swagger UI keys their values.
                const parameters = sys.specSelectors.specResolvedSubtree(["paths", path, method, "parameters"]);
                if (parameters) {
                  parameters.forEach((parameter) => {
                    const empty = parameter.getIn(["schema", "type"]) === "array" ? sys.Im.List() : "";
                    sys.specActions.changeParamByIdentity([path, method], parameter, empty);
                  });
                }
                return original(path, method);
              },
            },
          },
        },
      };
    };
  }

  window.ServicePlugin = ServicePlugin;
})();

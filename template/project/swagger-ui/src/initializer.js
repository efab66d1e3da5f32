// Starts Swagger UI with the settings the page carries (index.j2) and the service's plugin (service-plugin.js).
(function () {
  "use strict";
  const settings = JSON.parse(document.getElementById("swagger-ui-settings").textContent);
  const ui = SwaggerUIBundle({
    url: settings.specUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    plugins: [
      window.ServicePlugin({
        oauthConfigured: Boolean(settings.initOAuth),
        apiBase: settings.specUrl.replace(/\/openapi\.json$/, ""),
      }),
    ],
    // A token pasted on a shared machine must not outlive the tab.
    persistAuthorization: false,
  });
  if (settings.initOAuth) {
    ui.initOAuth(settings.initOAuth);
  }
  window.ui = ui;
})();

// Starts Swagger UI from the settings the page carries as JSON, so the page needs no
// inline script and its policy can be `script-src 'self'`.
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  var config = JSON.parse(document.getElementById("swagger-ui-config").textContent);
  var parameters = Object.assign({}, config.parameters, {
    url: config.openapiUrl,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
  if (config.oauth2RedirectUrl) {
    parameters.oauth2RedirectUrl = window.location.origin + config.oauth2RedirectUrl;
  }
  var ui = SwaggerUIBundle(parameters);
  if (config.initOAuth) {
    ui.initOAuth(config.initOAuth);
  }
  window.ui = ui;
});

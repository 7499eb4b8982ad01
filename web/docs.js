// The interactive API docs: Swagger UI over this service's /openapi.json. The API key entered on
// the main page (sessionStorage, this tab only) is pre-filled for "Try it out"; Swagger UI's own
// persistence (localStorage) stays off.
'use strict';

window.addEventListener('DOMContentLoaded', () => {
  const ui = window.SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    persistAuthorization: false,
    validatorUrl: null,  // the default sends the document to validator.swagger.io
    tryItOutEnabled: false,
    onComplete: () => {
      const key = sessionStorage.getItem('quire.apiKey');
      if (key) ui.preauthorizeApiKey('apiKey', key);
    },
  });
  window.quireDocs = ui;
});

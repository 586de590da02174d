// Starts Swagger UI on the API documentation page (/schema). The page names the OpenAPI
// document (same origin) and loads Swagger UI's bundle, this deployment's own copy, first.
const container = document.getElementById("swagger-ui");

window.ui = window.SwaggerUIBundle({
  url: container.dataset.openapiUrl,
  domNode: container,
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null, // no document is sent to an outside validator
  presets: [window.SwaggerUIBundle.presets.apis],
});

/* Starts Swagger UI on /api/v1/docs with the spec address given in data-spec-url. Requests
   made from the page carry the session cookie and the page's CSRF token. */
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  if (!root || typeof window.SwaggerUIBundle !== "function") { return; }
  var csrf = root.getAttribute("data-csrf-token");
  window.SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    domNode: root,
    deepLinking: true,
    requestInterceptor: function (request) {
      if (csrf && request.method && request.method.toUpperCase() !== "GET") {
        request.headers["X-CSRFToken"] = csrf;
      }
      return request;
    }
  });
})();

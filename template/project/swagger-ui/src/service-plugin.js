// What any servicekit service's Swagger UI wants, as a Swagger UI plugin (https://swagger.io/docs/open-source-tools/swagger-ui/customization/plugin-api/):
// - the Authorize dialog leads with the login that works here: Entra ID when a client is configured,
//   else the pasted bearer token;
// - "Try it out" pre-fills no parameter from the spec's examples (a user must never send an example by mistake):
//   the parameters Swagger UI sees carry their examples in their description instead, as text;
// - "Clear" clears the parameters too, not only the response;
// - fn.apiUrl(path): where the API's `path` is (under the same prefix as the spec, behind a proxy);
// - fn.currentToken() and fn.saveExactly(): the caller's token, and a download saved byte for byte under the
//   server's file name (Swagger UI's own "Download file" decodes the body as text, dropping a byte-order mark),
//   its progress reported as it streams in;
// - with a login configured, the Authorize dialog asks for no client_id or client_secret: the service sets them.
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

  // The name Content-Disposition gives (RFC 6266: filename* wins over filename), without any folder.
  function fileName(response, fallback) {
    const disposition = response.headers.get("Content-Disposition") || "";
    let name = null;
    const extended = /filename\*\s*=\s*UTF-8''([^;\s]+)/i.exec(disposition);
    if (extended) {
      try {
        name = decodeURIComponent(extended[1]);
      } catch (error) {
        name = null;
      }
    }
    if (!name) {
      const plain = /filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/i.exec(disposition);
      name = plain ? (plain[1] !== undefined ? plain[1].replace(/\\(.)/g, "$1") : plain[2]) : null;
    }
    name = name ? name.split(/[\\/]/).pop().trim() : "";
    return name || fallback;
  }

  // The response's bytes as the server sent them (the browser undoes only the Content-Encoding), saved
  // under its Content-Disposition name. `onProgress(chunk, bytesSoFar)` sees each piece as it arrives.
  // Resolves to {ok, status, name, bytes}, or {ok: false, status, detail, retryAfter, broken}: `broken` when
  // the transfer broke off part way, and then nothing is saved.
  async function saveExactly(url, token, fallbackName, onProgress) {
    const response = await fetch(url, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
    if (!response.ok) {
      const problem = await response.json().catch(() => ({}));
      return { ok: false, status: response.status, detail: problem.detail || response.statusText,
        retryAfter: response.headers.get("Retry-After") };
    }
    const chunks = [];
    let bytes = 0;
    const reader = response.body.getReader();
    try {
      for (let part = await reader.read(); !part.done; part = await reader.read()) {
        chunks.push(part.value);
        bytes += part.value.length;
        if (onProgress) {
          onProgress(part.value, bytes);
        }
      }
    } catch (error) {
      return { ok: false, status: response.status, detail: error.message, broken: true };
    }
    const blob = new Blob(chunks, { type: response.headers.get("Content-Type") || "" });
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

  // Where a parameter's examples live in OpenAPI 3 (and Swagger 2's x-example): Swagger UI's ParameterRow
  // (setDefaultValue, and the examples drop-down) takes its initial value from the first it finds.
  const EXAMPLE_PATHS = [["example"], ["examples"], ["x-example"], ["schema", "example"], ["schema", "examples"]];
  const withoutExamples = new WeakMap();

  function exampleText(value) {
    const plain = value && value.toJS ? value.toJS() : value;
    return typeof plain === "string" ? plain : JSON.stringify(plain);
  }

  // The parameter with its examples moved into its description (once per parameter object: Immutable values
  // are persistent, so the copy is remembered for as long as Swagger UI holds the original).
  function stripExamples(parameter) {
    if (!parameter || !parameter.getIn || !parameter.deleteIn) {
      return parameter;
    }
    const known = withoutExamples.get(parameter);
    if (known) {
      return known;
    }
    const shown = [];
    let stripped = parameter;
    for (const path of EXAMPLE_PATHS) {
      const value = parameter.getIn(path);
      if (value === undefined) {
        continue;
      }
      if (path[path.length - 1] === "examples" && value && value.entrySeq) {
        value.entrySeq().forEach(([key, example]) => {
          const inner = example && example.get ? example.get("value") : example;
          shown.push(typeof key === "number" ? exampleText(inner) : `${key}: ${exampleText(inner)}`);
        });
      } else {
        shown.push(exampleText(value));
      }
      stripped = stripped.deleteIn(path);
    }
    const content = stripped.get("content");
    if (content && content.keySeq) {
      content.keySeq().forEach((mediaType) => {
        for (const key of ["example", "examples"]) {
          if (stripped.getIn(["content", mediaType, key]) !== undefined) {
            stripped = stripped.deleteIn(["content", mediaType, key]);
          }
        }
      });
    }
    if (shown.length) {
      const description = stripped.get("description") || "";
      const examples = shown.map((text) => `\`${text.replace(/`/g, "'")}\``).join(", ");
      stripped = stripped.set("description", `${description}\n\nExample: ${examples}`.trim());
    }
    withoutExamples.set(parameter, stripped);
    return stripped;
  }

  function ServicePlugin(options) {
    const preferred = options.oauthConfigured ? "oauth2" : "http";
    return function (system) {
      const h = system.React.createElement;
      // The Authorize dialog's client_id and client_secret are the service's settings (initOAuth), never the
      // user's to type: marked here, hidden by service.css.
      const clientFieldsHidden = options.oauthConfigured ? {
        oauth2: (Original) => (props) => h("div", { className: "sk-client-configured" }, h(Original, props)),
      } : {};

      // Its children, every <select> among them without a name given one.
      function NamedSelects({ name, children }) {
        const box = system.React.useRef(null);
        system.React.useEffect(() => {
          box.current.querySelectorAll("select:not([aria-label])").forEach((select) => select.setAttribute("aria-label", name));
        });
        return h("div", { ref: box }, children);
      }

      return {
        fn: {
          apiUrl: (path) => options.apiBase + path,
          currentToken: () => currentToken(system),
          saveExactly,
        },
        // Swagger UI draws a parameter's true/false or enum drop-down, and the servers' one, with no name a
        // screen reader can say (axe: select-name): each takes its parameter's name (`description`, as
        // ParameterRow passes it), or "Server", or "Example" (a response's examples).
        wrapComponents: {
          JsonSchemaForm: (Original) => (props) => h(NamedSelects, { name: props.description }, h(Original, props)),
          Servers: (Original) => (props) => h(NamedSelects, { name: "Server" }, h(Original, props)),
          ExamplesSelect: (Original) => (props) => h(NamedSelects, { name: "Example" }, h(Original, props)),
          ...clientFieldsHidden,
        },
        statePlugins: {
          auth: {
            wrapSelectors: {
              definitionsToAuthorize: (original) => (_state, ...args) => {
                const definitions = original(...args);
                return definitions.sortBy((definition) => (definition.first().get("type") === preferred ? 0 : 1));
              },
            },
          },
          spec: {
            // A selector's wrapper is called with the namespace's state first; `original` is already bound to it.
            wrapSelectors: {
              // What every parameter row reads its parameter (and so its initial value) through.
              parameterWithMetaByIdentity: (original) => (_state, ...args) => stripExamples(original(...args)),
              parameterWithMeta: (original) => (_state, ...args) => stripExamples(original(...args)),
            },
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

// Directmail's additions to Swagger UI's API console (the mailing-list form, mailing-list-form.js, is what
// marketing staff use), on GET /directmail-csv and GET /directmail-summary once "Try it out" is on:
// - communities picked from a searchable list loaded from GET /communities: each pick is one item of the
//   `communities` parameter, sent as one `communities=` each (the spec's standard form), so that any name,
//   "Ashton Keynes, Wiltshire" included, just works;
// - a live preview, "N premises in M communities", from GET /directmail-summary with the filters as they are;
// - for the CSV, a Download button that saves the server's bytes exactly (byte-order mark included) under the
//   server's file name.
// Elements carry data-testid attributes (README.md lists them) for the browser tests.
(function () {
  "use strict";

  const FILTERED = { "/directmail-csv": "csv", "/directmail-summary": "summary" };
  const PREVIEW_DELAY_MS = 300;

  // The operation's query as Swagger UI holds it, as the query string it would send (`bom` left out for a
  // preview, which counts).
  function queryOf(system, path, method, withBom) {
    const query = new URLSearchParams();
    system.specSelectors.parameterValues([path, method]).forEach((value, key) => {
      const [place, name] = key.split(".");
      if (place !== "query" || (name === "bom" && !withBom) || value === undefined || value === null) {
        return;
      }
      const items = value && value.toArray ? value.toArray() : [String(value)];
      items.filter((item) => item !== "").forEach((item) => query.append(name, item));
    });
    return query.toString();
  }

  function DirectmailPlugin(system) {
    const React = system.React;
    const h = React.createElement;
    const { useEffect, useState } = React;

    // Re-reads `read()` whenever Swagger UI's state changes (a parameter typed, a token pasted).
    function useStoreValue(read) {
      const [value, setValue] = useState(read);
      useEffect(() => system.getStore().subscribe(() => setValue(read())), []);
      return value;
    }

    async function getJson(path) {
      const token = system.fn.currentToken();
      const response = await fetch(system.fn.apiUrl(path), { headers: token ? { Authorization: `Bearer ${token}` } : {} });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) {
        throw new Error(body.detail || `${response.status} ${response.statusText}`);
      }
      return body;
    }

    function CommunityPicker({ param, pathMethod, onChange }) {
      const [communities, setCommunities] = useState(null);
      const [problem, setProblem] = useState(null);
      const [search, setSearch] = useState("");
      const token = useStoreValue(() => system.fn.currentToken());
      const value = useStoreValue(() =>
        system.specSelectors.parameterWithMetaByIdentity(pathMethod, param).get("value"));
      const chosen = value && value.toArray ? value.toArray().filter((item) => item !== "") : [];

      useEffect(() => {
        if (!token || communities) {
          return;
        }
        getJson("/communities").then(setCommunities, (error) => setProblem(error.message));
      }, [token]);

      const choose = (names) => onChange(param, system.Im.List(names));
      const toggle = (name) =>
        choose(chosen.includes(name) ? chosen.filter((item) => item !== name) : [...chosen, name]);

      if (!token) {
        return h("div", { className: "dm-picker", "data-testid": "community-picker" },
          "Authorize to pick communities from the list.");
      }
      if (!communities) {
        return h("div", { className: "dm-picker", "data-testid": "community-picker" },
          problem ? `The communities could not be loaded: ${problem}` : "Loading the communities…");
      }
      const needle = search.trim().toLocaleLowerCase();
      const shown = communities.filter((community) => community.name.toLocaleLowerCase().includes(needle));
      return h("div", { className: "dm-picker", "data-testid": "community-picker" },
        h("input", {
          type: "search",
          placeholder: `Search ${communities.length} communities`,
          value: search,
          onChange: (event) => setSearch(event.target.value),
          "data-testid": "community-search",
        }),
        h("ul", { className: "dm-options" }, shown.map((community) =>
          h("li", { key: community.name },
            h("label", null,
              h("input", {
                type: "checkbox",
                checked: chosen.includes(community.name),
                onChange: () => toggle(community.name),
                "data-testid": "community-option",
                "data-name": community.name,
              }),
              ` ${community.name} `,
              h("span", { className: "dm-count" }, `${community.premises.toLocaleString()} premises`))))),
        chosen.length
          ? h("p", { "data-testid": "community-chosen" }, `Chosen: ${chosen.join("; ")} `,
            h("button", { className: "btn", onClick: () => choose([]) }, "None"))
          : h("p", null, "None chosen: every community."));
    }

    function Preview({ path, method }) {
      const query = useStoreValue(() => queryOf(system, path, method, false));
      const token = useStoreValue(() => system.fn.currentToken());
      const [text, setText] = useState("");
      useEffect(() => {
        if (!token) {
          setText("Authorize to see how many premises these filters give.");
          return undefined;
        }
        setText("Counting…");
        const timer = setTimeout(() => {
          getJson(`/directmail-summary?${query}`).then(
            (summary) => setText(`${summary.total.toLocaleString()} premises in ${summary.communities.length} communities`),
            (error) => setText(error.message));
        }, PREVIEW_DELAY_MS);
        return () => clearTimeout(timer);
      }, [query, token]);
      return h("p", { className: "dm-preview", "data-testid": "summary-preview", "aria-live": "polite" }, text);
    }

    function Download({ path, method }) {
      const [status, setStatus] = useState("");
      const save = async () => {
        setStatus("Downloading…");
        const result = await system.fn.saveExactly(
          system.fn.apiUrl(`/directmail-csv?${queryOf(system, path, method, true)}`), system.fn.currentToken(), "directmail.csv");
        setStatus(result.ok ? `Saved ${result.name}` : `Not downloaded (${result.status}): ${result.detail}`);
      };
      return h("span", null,
        h("button", { className: "btn execute dm-download", onClick: save, "data-testid": "download-csv" },
          "Download CSV"),
        h("span", { className: "dm-status", "data-testid": "download-status" }, status));
    }

    return {
      wrapComponents: {
        parameterRow: (Original) => (props) => {
          const [path] = props.pathMethod;
          if (!FILTERED[path] || !props.isExecute || props.param.get("name") !== "communities") {
            return h(Original, props);
          }
          return h(React.Fragment, null,
            h(Original, props),
            h("tr", null, h("td", null), h("td", null,
              // rawParam: the spec's own parameter, by which Swagger UI keys its value (param carries the value).
              h(CommunityPicker, { param: props.rawParam, pathMethod: props.pathMethod, onChange: props.onChange }))));
        },
        execute: (Original) => (props) => {
          const kind = FILTERED[props.path];
          if (!kind) {
            return h(Original, props);
          }
          return h("div", { className: "dm-execute" },
            h(Original, props),
            kind === "csv" ? h(Download, { path: props.path, method: props.method }) : null,
            h(Preview, { path: props.path, method: props.method }));
        },
      },
    };
  }

  window.DirectmailPlugin = DirectmailPlugin;
})();

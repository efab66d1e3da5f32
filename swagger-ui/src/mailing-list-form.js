// The page /ui/ opens on: a mailing-list form for marketing staff, as a Swagger UI layout plugin, so that the
// spec and Swagger UI's sign-in state stay its source. The API console (Swagger UI's BaseLayout) is one click
// away. Plain English throughout: no HTTP words, every problem the API returns said as what to do next.
// Elements carry data-testid attributes (README.md lists them) for the browser tests.
(function () {
  "use strict";

  const COUNT_DELAY_MS = 300;
  const SUGGESTIONS = 3;
  const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December"];
  // The form's filters by the API's parameter names, with their labels (a refusal names the parameter).
  const FIELD_LABELS = {
    communities: "Communities",
    rfs: "Ready for service",
    rfs_date_after: "Ready for service from",
    rfs_date_before: "Ready for service before",
    business: "Business premises",
    bduk: "BDUK",
    segments: "Segments",
    bom: "For Excel",
  };
  const EMPTY_FILTERS = {
    communities: [], rfs: "", rfs_date_after: "", rfs_date_before: "", business: "", bduk: "", segments: [], bom: true,
  };

  // What people type and what Salesforce holds differ in case, accents and punctuation: "ty croes" is Tŷ Croes,
  // "stow on the wold" Stow-on-the-Wold, "devils" Devil's Bridge.
  function searchable(text) {
    return text.normalize("NFD").replace(/\p{M}/gu, "").toLocaleLowerCase("en-GB")
      .replace(/['’‘`]/g, "").replace(/[-‐–—,.]/g, " ").replace(/\s+/g, " ").trim();
  }

  function matches(name, query) {
    const words = searchable(query).split(" ").filter(Boolean);
    const target = searchable(name);
    return words.every((word) => target.includes(word));
  }

  function editDistance(a, b) {
    let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
    for (let i = 1; i <= a.length; i += 1) {
      const current = [i];
      for (let j = 1; j <= b.length; j += 1) {
        current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      }
      previous = current;
    }
    return previous[b.length];
  }

  // The names closest to a query that matches none: against the whole name, or its start as long as the query.
  function closest(names, query) {
    const wanted = searchable(query);
    const distance = (name) => {
      const target = searchable(name);
      return Math.min(editDistance(wanted, target), editDistance(wanted, target.slice(0, wanted.length)));
    };
    return names.map((name) => [distance(name), name]).sort((a, b) => a[0] - b[0] || a[1].localeCompare(b[1]))
      .slice(0, SUGGESTIONS).map(([, name]) => name);
  }

  // A typed UK date, DD/MM/YYYY, as {iso} or {error} (a sentence saying how to type it); empty is {iso: ""}.
  function parseUkDate(text) {
    const typed = text.trim();
    if (!typed) {
      return { iso: "" };
    }
    const parts = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(typed);
    if (!parts) {
      return { error: `"${typed}" is not a date this form reads: type day/month/year, like 31/12/2024.` };
    }
    const [day, month, year] = parts.slice(1).map(Number);
    if (month < 1 || month > 12) {
      return { error: `There is no month ${month}: type day/month/year, like 31/12/2024.` };
    }
    const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
    if (day < 1 || day > days) {
      return { error: `There is no ${typed}: ${MONTHS[month - 1]} ${year} has ${days} days.` };
    }
    return { iso: `${year}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}` };
  }

  function ukDate(iso) {
    const [year, month, day] = iso.split("-");
    return `${day}/${month}/${year}`;
  }

  // Each typed date read, and a range that holds no date refused, by field.
  function dateProblems(filters) {
    const after = parseUkDate(filters.rfs_date_after);
    const before = parseUkDate(filters.rfs_date_before);
    const problems = {};
    if (after.error) {
      problems.rfs_date_after = after.error;
    }
    if (before.error) {
      problems.rfs_date_before = before.error;
    }
    if (after.iso && before.iso && after.iso >= before.iso) {
      problems.rfs_date_before = "This date must be later than the \"from\" date: no date is in that range.";
    }
    return { problems, after: after.iso || "", before: before.iso || "" };
  }

  // The filters as the API reads them: one parameter per list item, a filter left at "either" left out.
  function queryOf(filters, dates, withBom) {
    const query = new URLSearchParams();
    filters.communities.forEach((name) => query.append("communities", name));
    for (const name of ["rfs", "business", "bduk"]) {
      if (filters[name]) {
        query.append(name, filters[name]);
      }
    }
    if (dates.after) {
      query.append("rfs_date_after", dates.after);
    }
    if (dates.before) {
      query.append("rfs_date_before", dates.before);
    }
    filters.segments.forEach((segment) => query.append("segments", segment));
    if (withBom && filters.bom) {
      query.append("bom", "true");
    }
    return query.toString();
  }

  // The first of the form's parameters a refusal names, if any.
  function fieldNamed(detail) {
    const named = /\b(rfs_date_after|rfs_date_before|communities|segments|business|bduk|bom|rfs)\b/.exec(detail || "");
    return named ? named[1] : null;
  }

  // What a refusal means to the person at the form, and what to do next. `retryAfter`: seconds, as sent.
  function sentenceFor(status, detail, retryAfter) {
    if (status === 400) {
      const field = fieldNamed(detail);
      const label = field ? FIELD_LABELS[field] : null;
      const said = (detail || "").replace(/\b(rfs_date_after|rfs_date_before|communities|segments|business|bduk|bom|rfs)\b/g,
        (name) => `"${FIELD_LABELS[name]}"`);
      return { field, text: label ? `Check "${label}": ${said}` : `The service could not use these choices: ${said}` };
    }
    if (status === 403) {
      return { text: "Your account is not allowed to get mailing lists yet. Ask your manager or the service desk " +
        "for access to Directmail (the Directmail.Read role), then sign in again." };
    }
    if (status === 503) {
      const wait = Number.parseInt(retryAfter, 10);
      const when = Number.isFinite(wait) ? `in ${wait} seconds` : "in a minute";
      const why = /slot|download/i.test(detail || "") ? "The service is busy with other downloads"
        : "The service cannot reach its data just now";
      return { text: `${why}. Nothing was lost: try again ${when}.` };
    }
    if (status === 504) {
      return { text: "That was too much to get at once. Choose fewer communities (or narrow the list), then try again." };
    }
    if (status === 414) {
      return { field: "communities", text: "Too many communities for one list. Choose fewer, and get the rest in a second list." };
    }
    return { text: `Something went wrong on the service's side (${status}). Try again; if it keeps happening, ` +
      "tell the service desk what you were doing and when." };
  }

  const OFFLINE = { text: "The service could not be reached. Check your connection, then try again." };

  function MailingListFormPlugin(options) {
    return function (system) {
      const React = system.React;
      const h = React.createElement;
      const { useEffect, useRef, useState } = React;

      // Re-reads `read()` whenever Swagger UI's state changes (a sign-in, the spec loaded).
      function useStoreValue(read) {
        const [value, setValue] = useState(read);
        useEffect(() => system.getStore().subscribe(() => setValue(read())), []);
        return value;
      }

      // The schemes the spec declares, as Swagger UI's Authorize dialog offers them: [name, scheme] pairs.
      function schemes() {
        const definitions = system.authSelectors.definitionsToAuthorize() || system.Im.List();
        return definitions.toArray().map((definition) => [definition.keySeq().first(), definition.first()]);
      }

      function signOut() {
        const authorized = system.authSelectors.authorized();
        if (authorized && authorized.size) {
          system.authActions.logout(authorized.keySeq().toArray());
        }
      }

      // The API answer as {ok, status, body, detail, retryAfter}; throws only when the service is unreachable.
      async function callApi(url) {
        const token = system.fn.currentToken();
        const response = await fetch(url, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
        const body = await response.json().catch(() => ({}));
        return { ok: response.ok, status: response.status, body, detail: body.detail,
          retryAfter: response.headers.get("Retry-After") };
      }

      // Entra ID's login as Swagger UI's Authorize dialog starts it (oauth2-authorize.js): the authorization code
      // flow with PKCE in a pop-up, which oauth2-redirect.html hands back to the callback, which swaps the code
      // for a token and stores it in Swagger UI's auth state.
      async function startEntraLogin(onProblem) {
        const entra = schemes().find(([, scheme]) => scheme.get("type") === "oauth2");
        const authConfigs = system.authSelectors.getConfigs() || {};
        if (!entra) {
          onProblem("This service's sign-in is not set up. Tell the service desk.");
          return;
        }
        const [name, schema] = entra;
        const verifier = base64Url(crypto.getRandomValues(new Uint8Array(32)));
        const challenge = base64Url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))));
        const scopes = String(authConfigs.scopes || "").split(" ").filter(Boolean);
        const redirectUrl = system.getConfigs().oauth2RedirectUrl;
        const state = base64Url(crypto.getRandomValues(new Uint8Array(16)));
        const query = new URLSearchParams({
          response_type: "code", client_id: authConfigs.clientId, redirect_uri: redirectUrl, scope: scopes.join(" "),
          state, code_challenge: challenge, code_challenge_method: "S256",
        });
        const auth = { name, schema, scopes, clientId: authConfigs.clientId, clientSecret: "", codeVerifier: verifier };
        system.authActions.authPopup(`${schema.get("authorizationUrl")}?${query}`, {
          auth, state, redirectUrl, callback: system.authActions.authorizeAccessCodeWithFormParams,
          errCb: system.errActions.newAuthErr,
        });
      }

      function base64Url(bytes) {
        return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
      }

      // The local developer's sign-in: the service mints a token (ENVIRONMENT=local only), Swagger UI keeps it.
      async function localSignIn() {
        const response = await fetch(new URL("local-sign-in", document.baseURI), { method: "POST" });
        if (!response.ok) {
          return "Signing in as the local developer works only on a developer's machine (ENVIRONMENT=local).";
        }
        const { access_token: token } = await response.json();
        const bearer = schemes().find(([, scheme]) => scheme.get("type") === "http" && scheme.get("scheme") === "bearer");
        if (!bearer) {
          return "This service takes no pasted token, so the local sign-in cannot be used.";
        }
        const [name, schema] = bearer;
        system.authActions.authorize({ [name]: { name, schema, value: token } });
        return null;
      }

      function Message({ id, text, testId, alert }) {
        if (!text) {
          return null;
        }
        return h("p", { id, className: "dm-message", role: alert ? "alert" : undefined, "data-testid": testId }, text);
      }

      // What Swagger UI's login last reported going wrong (its token exchange reports there, not to us).
      function lastLoginError() {
        const errors = system.errSelectors.allErrors().filter((error) => error.get("source") === "auth");
        return errors.size ? errors.last().get("message") : null;
      }

      function SignIn({ session, onProblem }) {
        const token = useStoreValue(() => system.fn.currentToken());
        const loginError = useStoreValue(lastLoginError);
        const canEntra = options.oauthConfigured;
        const canLocal = options.environment === "local";
        const signOutButton = h("button", { type: "button", className: "btn", onClick: signOut, "data-testid": "sign-out" },
          "Sign out");
        if (token && session.name) {
          return h("div", { className: "dm-signed-in" },
            h("p", { "data-testid": "signed-in-as" }, "Signed in as ", h("strong", null, session.name), "."), signOutButton);
        }
        if (token) {
          // Signed in, but the service refuses the account (its problem is said below): signing out is what is left.
          return session.problem ? signOutButton : h("p", null, "Signing in…");
        }
        const entraSignIn = () => {
          system.errActions.clearBy((error) => error.get("source") === "auth");
          startEntraLogin(onProblem);
        };
        return h("div", { className: "dm-sign-in" },
          canEntra ? h("button", {
            type: "button", className: "btn dm-primary", "data-testid": "sign-in", onClick: entraSignIn,
          }, "Sign in") : null,
          canLocal ? h("button", {
            type: "button", className: "btn dm-primary", "data-testid": "local-sign-in",
            onClick: () => localSignIn().then(onProblem, () => onProblem(OFFLINE.text)),
          }, "Sign in as the local developer") : null,
          !canEntra && !canLocal
            ? h("p", null, "Sign-in is not set up on this service yet. Ask the service desk for help.") : null,
          canEntra && loginError ? h(Message, {
            text: `The sign-in did not finish. Try again; if it keeps failing, tell the service desk: ${loginError}`,
            testId: "sign-in-unfinished", alert: true }) : null);
      }

      function CommunityChooser({ communities, chosen, onChoose, problem }) {
        const [search, setSearch] = useState("");
        if (!communities) {
          return h("p", { "data-testid": "community-picker" }, "Sign in to see the communities.");
        }
        const names = communities.map((community) => community.name);
        const premises = new Map(communities.map((community) => [community.name, community.premises]));
        const found = search.trim() ? names.filter((name) => matches(name, search)) : names;
        const suggested = search.trim() && !found.length ? closest(names, search) : [];
        const toggle = (name) => onChoose(chosen.includes(name) ? chosen.filter((item) => item !== name) : [...chosen, name]);
        const chooseFirst = (event) => {
          if (event.key === "Enter" && search.trim() && found.length) {
            event.preventDefault();
            if (!chosen.includes(found[0])) {
              onChoose([...chosen, found[0]]);
            }
            setSearch("");
          }
        };
        return h("div", { className: "dm-chooser", "data-testid": "community-picker" },
          h("label", { htmlFor: "dm-community-search" }, "Find a community"),
          h("p", { id: "dm-community-hint", className: "dm-hint" },
            "Type part of its name; accents, capitals and punctuation do not matter. Enter adds the first match."),
          h("input", {
            id: "dm-community-search", type: "search", value: search, autoComplete: "off",
            "aria-describedby": problem ? "dm-community-hint dm-communities-problem" : "dm-community-hint",
            "aria-invalid": problem ? "true" : undefined,
            onChange: (event) => setSearch(event.target.value), onKeyDown: chooseFirst, "data-testid": "community-search",
          }),
          h(Message, { id: "dm-communities-problem", text: problem, testId: "communities-problem" }),
          suggested.length
            ? h("div", { className: "dm-suggestions", "data-testid": "community-suggestions", role: "status" },
              `No community matches "${search.trim()}". Did you mean: `,
              suggested.map((name) => h("button", {
                key: name, type: "button", className: "btn dm-link", onClick: () => { toggle(name); setSearch(""); },
              }, name)))
            : h("ul", { className: "dm-options", "aria-label": "Communities found" }, found.map((name) =>
              h("li", { key: name },
                h("label", null,
                  h("input", {
                    type: "checkbox", checked: chosen.includes(name), onChange: () => toggle(name),
                    "data-testid": "community-option", "data-name": name,
                  }),
                  ` ${name} `,
                  h("span", { className: "dm-count" }, `${premises.get(name).toLocaleString("en-GB")} premises`))))),
          h("div", { className: "dm-chips", "data-testid": "community-chosen", "aria-live": "polite" },
            chosen.length ? [
              h("span", { key: "label" }, `Chosen (${chosen.length}): `),
              ...chosen.map((name) => h("button", {
                key: name, type: "button", className: "dm-chip", "aria-label": `Remove ${name}`,
                onClick: () => onChoose(chosen.filter((item) => item !== name)),
              }, name, h("span", { "aria-hidden": "true" }, " ×"))),
            ] : "None chosen yet: the list holds every community."));
      }

      function Choice({ name, legend, labels, value, onChange }) {
        return h("fieldset", { className: "dm-choice", "data-testid": `choice-${name}` },
          h("legend", null, legend),
          [["true", labels[0]], ["false", labels[1]], ["", "Either"]].map(([option, label]) =>
            h("label", { key: option },
              h("input", { type: "radio", name: `dm-${name}`, value: option, checked: value === option,
                onChange: () => onChange(option) }),
              ` ${label}`)));
      }

      function DateField({ name, label, hint, text, problem, onChange }) {
        const read = parseUkDate(text);
        const id = `dm-${name}`;
        const described = [`${id}-hint`, problem ? `${id}-problem` : null].filter(Boolean).join(" ");
        return h("div", { className: "dm-date" },
          h("label", { htmlFor: id }, label),
          h("p", { id: `${id}-hint`, className: "dm-hint" }, hint),
          h("div", { className: "dm-date-inputs" },
            h("input", {
              id, type: "text", inputMode: "numeric", placeholder: "DD/MM/YYYY", value: text, autoComplete: "off",
              "aria-invalid": problem ? "true" : undefined, "aria-describedby": described,
              onChange: (event) => onChange(event.target.value), "data-testid": `date-${name}`,
            }),
            h("input", {
              type: "date", "aria-label": `${label}: pick from a calendar`, value: read.iso || "",
              onChange: (event) => onChange(event.target.value ? ukDate(event.target.value) : ""),
              "data-testid": `date-picker-${name}`,
            })),
          h(Message, { id: `${id}-problem`, text: problem, testId: `date-problem-${name}` }));
      }

      function Segments({ all, chosen, onChange }) {
        return h("fieldset", { className: "dm-choice", "data-testid": "choice-segments" },
          h("legend", null, "Segments (none ticked: every segment)"),
          all.map((segment) => h("label", { key: segment },
            h("input", {
              type: "checkbox", checked: chosen.includes(segment), value: segment,
              onChange: () => onChange(chosen.includes(segment) ? chosen.filter((item) => item !== segment)
                : all.filter((item) => item === segment || chosen.includes(item))),
            }),
            ` ${segment}`)));
      }

      // An empty list is never worth saving: someone could send it on as the mailing list.
      function matchesNothing(summary) {
        return Boolean(summary.value) && summary.value.total === 0;
      }

      function countText(summary) {
        if (summary.total === 0) {
          return "No premises match these choices: change them to get a list.";
        }
        const premises = summary.total.toLocaleString("en-GB");
        const communities = summary.communities.length;
        return `${premises} premises in ${communities} ${communities === 1 ? "community" : "communities"}`;
      }

      function sizeText(bytes) {
        return bytes < 1024 * 1024 ? `${Math.ceil(bytes / 1024)} KB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`;
      }

      function MailingListForm() {
        const token = useStoreValue(() => system.fn.currentToken());
        const segmentsAll = useStoreValue(() =>
          (system.specSelectors.specJson().getIn(["components", "schemas", "Segment", "enum"]) || system.Im.List()).toArray());
        const [filters, setFilters] = useState(EMPTY_FILTERS);
        const [session, setSession] = useState({ name: null, lost: null, problem: null });
        const [communities, setCommunities] = useState(null);
        const [summary, setSummary] = useState({ text: "", value: null });
        const [serverProblem, setServerProblem] = useState(null);
        const [download, setDownload] = useState({ state: "idle", text: "" });
        const [confirming, setConfirming] = useState(false);
        const confirmButton = useRef(null);
        const dates = dateProblems(filters);
        const fieldProblems = { ...dates.problems };
        if (serverProblem && serverProblem.field && !fieldProblems[serverProblem.field]) {
          fieldProblems[serverProblem.field] = serverProblem.text;
        }
        const countQuery = queryOf(filters, dates, false);
        const datesOk = !Object.keys(dates.problems).length;

        // A 401 means the token is no longer good: forget it, say so, keep the filters.
        function expire(detail) {
          signOut();
          const lost = /expired/i.test(detail || "") ? "Your sign-in has expired."
            : "Your sign-in was not accepted (it may have ended).";
          setSession({ name: null, lost: `${lost} Sign in again: your choices below are kept.`, problem: null });
        }

        // Says what went wrong through `setText`, beside the field it names; a lost sign-in says so at the top.
        function report(result, setText) {
          if (result.status === 401) {
            expire(result.detail);
            return;
          }
          const sentence = sentenceFor(result.status, result.detail, result.retryAfter);
          setServerProblem(sentence.field ? sentence : null);
          setText(sentence.text);
        }

        useEffect(() => {
          if (!token) {
            setSession((current) => ({ ...current, name: null }));
            return;
          }
          setSession({ name: null, lost: null, problem: null });
          callApi(system.fn.apiUrl("/me")).then((result) => {
            if (result.ok) {
              setSession({ name: result.body.name || "you", lost: null, problem: null });
            } else {
              report(result, (text) => setSession({ name: null, lost: null, problem: text }));
            }
          }, () => setSession({ name: null, lost: null, problem: OFFLINE.text }));
          if (!communities) {
            callApi(system.fn.apiUrl("/communities")).then((result) => {
              if (result.ok) {
                setCommunities(result.body);
              } else {
                report(result, (text) => setSession((current) => ({ ...current, problem: text })));
              }
            }, () => setSession((current) => ({ ...current, problem: OFFLINE.text })));
          }
        }, [token]);

        useEffect(() => {
          if (!token) {
            setSummary({ text: "Sign in to see how many premises your choices give.", value: null });
            return undefined;
          }
          if (!datesOk) {
            setSummary({ text: "Correct the dates marked above to see the count.", value: null });
            return undefined;
          }
          setSummary((current) => ({ ...current, text: "Counting…" }));
          let current = true;
          const timer = setTimeout(() => {
            callApi(system.fn.apiUrl(`/directmail-summary?${countQuery}`)).then((result) => {
              if (!current) {
                return;
              }
              if (result.ok) {
                setServerProblem(null);
                setSummary({ text: countText(result.body), value: result.body });
              } else {
                report(result, (text) => setSummary({ text, value: null }));
              }
            }, () => current && setSummary({ text: OFFLINE.text, value: null }));
          }, COUNT_DELAY_MS);
          return () => {
            current = false;
            clearTimeout(timer);
          };
        }, [countQuery, token, datesOk]);

        useEffect(() => {
          if (confirming && confirmButton.current) {
            confirmButton.current.focus();
          }
        }, [confirming]);

        function change(name, value) {
          setFilters((current) => ({ ...current, [name]: value }));
          setConfirming(false);
          if (download.state !== "running") {
            setDownload({ state: "idle", text: "" });
          }
          if (serverProblem && serverProblem.field === name) {
            setServerProblem(null);
          }
        }

        function clearForm() {
          setFilters(EMPTY_FILTERS);
          setServerProblem(null);
          setConfirming(false);
          setDownload({ state: "idle", text: "" });
        }

        function requestDownload() {
          if (!datesOk) {
            document.getElementById(`dm-${Object.keys(dates.problems)[0]}`).focus();
            return;
          }
          if (!filters.communities.length) {
            setConfirming(true);
            return;
          }
          startDownload();
        }

        async function startDownload() {
          setConfirming(false);
          let rows = -1; // the header row is not a premises
          const progress = (chunk, bytes) => {
            rows += chunk.reduce((count, byte) => count + (byte === 10 ? 1 : 0), 0);
            setDownload({ state: "running", text: `Downloading… ${Math.max(rows, 0).toLocaleString("en-GB")} rows so far (${sizeText(bytes)})` });
          };
          setDownload({ state: "running", text: "Starting the download…" });
          let result;
          try {
            result = await system.fn.saveExactly(
              system.fn.apiUrl(`/directmail-csv?${queryOf(filters, dates, true)}`), system.fn.currentToken(),
              "directmail.csv", progress);
          } catch (error) {
            setDownload({ state: "failed", text: `Not downloaded: ${OFFLINE.text}` });
            return;
          }
          if (result.ok) {
            setDownload({ state: "saved", text: `Saved ${result.name}: ${Math.max(rows, 0).toLocaleString("en-GB")} premises.` });
          } else if (result.broken) {
            setDownload({ state: "failed", text: "Not downloaded: the download broke off part way, so nothing was saved. Try again." });
          } else {
            report(result, (text) => setDownload({ state: "failed", text: `Not downloaded. ${text}` }));
            if (result.status === 401) {
              setDownload({ state: "failed", text: "Not downloaded: sign in again (step 1), then download." });
            }
          }
        }

        const everything = summary.value ? summary.value.total.toLocaleString("en-GB") : "every";
        return h("form", { className: "dm-form", "data-testid": "mailing-list-form", onSubmit: (event) => event.preventDefault() },
          h("p", { className: "dm-intro" },
            "Get a mailing list of premises as a spreadsheet file: sign in, choose communities, narrow the list " +
            "if you need to, and download."),
          h("section", { className: "dm-section", "aria-labelledby": "dm-step-sign-in" },
            h("h2", { id: "dm-step-sign-in" }, "1. Sign in"),
            session.lost ? h("p", { className: "dm-message", role: "alert", "data-testid": "sign-in-expired" },
              session.lost) : null,
            h(SignIn, { session, onProblem: (text) => setSession((current) => ({ ...current, problem: text })) }),
            h(Message, { text: session.problem, testId: "sign-in-problem", alert: true })),
          h("section", { className: "dm-section", "aria-labelledby": "dm-step-communities" },
            h("h2", { id: "dm-step-communities" }, "2. Choose communities"),
            h(CommunityChooser, {
              communities, chosen: filters.communities, onChoose: (names) => change("communities", names),
              problem: fieldProblems.communities,
            })),
          h("section", { className: "dm-section", "aria-labelledby": "dm-step-narrow" },
            h("h2", { id: "dm-step-narrow" }, "3. Narrow the list (optional)"),
            h("div", { className: "dm-filters" },
              h(Choice, { name: "rfs", legend: "Ready for service?", labels: ["Yes", "No"], value: filters.rfs,
                onChange: (value) => change("rfs", value) }),
              h(Choice, { name: "business", legend: "Business premises?", labels: ["Yes", "No"], value: filters.business,
                onChange: (value) => change("business", value) }),
              h(Choice, { name: "bduk", legend: "BDUK-funded premises?", labels: ["Yes", "No"], value: filters.bduk,
                onChange: (value) => change("bduk", value) }),
              h(Segments, { all: segmentsAll, chosen: filters.segments, onChange: (value) => change("segments", value) })),
            h("div", { className: "dm-filters" },
              h(DateField, { name: "rfs_date_after", label: "Ready for service from", hint: "On or after this day, DD/MM/YYYY.",
                text: filters.rfs_date_after, problem: fieldProblems.rfs_date_after,
                onChange: (value) => change("rfs_date_after", value) }),
              h(DateField, { name: "rfs_date_before", label: "Ready for service before", hint: "Before this day, DD/MM/YYYY.",
                text: filters.rfs_date_before, problem: fieldProblems.rfs_date_before,
                onChange: (value) => change("rfs_date_before", value) }))),
          h("section", { className: "dm-section", "aria-labelledby": "dm-step-download" },
            h("h2", { id: "dm-step-download" }, "4. Download"),
            h("p", { className: "dm-preview", "data-testid": "summary-count", "aria-live": "polite" }, summary.text),
            h("div", { className: "dm-excel" },
              h("label", null,
                h("input", { type: "checkbox", checked: filters.bom, "aria-describedby": "dm-bom-hint",
                  onChange: (event) => change("bom", event.target.checked), "data-testid": "for-excel" }),
                " For Excel"),
              h("p", { id: "dm-bom-hint", className: "dm-hint" },
                "Keeps accented names such as Tŷ Croes readable in Excel; untick it for other programs.")),
            confirming ? h("div", { className: "dm-confirm", role: "group", "aria-labelledby": "dm-confirm-text", "data-testid": "confirm-everything" },
              h("p", { id: "dm-confirm-text" },
                `No community is chosen, so the list covers every community: ${everything} premises. Download everything?`),
              h("button", { type: "button", className: "btn dm-primary", onClick: startDownload }, "Download everything"),
              // Focus lands on Cancel: Enter pressed by reflex must not take the whole database.
              h("button", { type: "button", className: "btn", ref: confirmButton, onClick: () => setConfirming(false) },
                "Cancel")) : null,
            h("div", { className: "dm-actions" },
              h("button", {
                type: "button", className: "btn dm-primary",
                disabled: !token || download.state === "running" || matchesNothing(summary),
                onClick: requestDownload, "data-testid": "download",
              }, "Download the mailing list"),
              h("button", { type: "button", className: "btn", onClick: clearForm, "data-testid": "clear-form" }, "Clear the form")),
            h("p", { className: `dm-status dm-${download.state}`, role: "status", "data-testid": "download-status" }, download.text)));
      }

      // The form first, the API console one click away (and a link to an operation opens the console).
      function DirectmailLayout() {
        const [view, setView] = useState(window.location.hash.startsWith("#/") ? "console" : "form");
        const BaseLayout = system.getComponent("BaseLayout", true);
        const tab = (name, label, testId) => h("button", {
          type: "button", className: "dm-tab", "aria-pressed": view === name ? "true" : "false",
          onClick: () => setView(name), "data-testid": testId,
        }, label);
        return h("div", { className: "dm-layout" },
          h("nav", { className: "dm-tabs", "aria-label": "Views" },
            tab("form", "Mailing list", "show-form"),
            tab("console", "API console for engineers", "show-console")),
          h("main", { hidden: view !== "form", className: "dm-main" }, h(MailingListForm)),
          h("div", { hidden: view !== "console", "data-testid": "api-console" }, h(BaseLayout)));
      }

      return { components: { DirectmailLayout } };
    };
  }

  window.MailingListFormPlugin = MailingListFormPlugin;
})();

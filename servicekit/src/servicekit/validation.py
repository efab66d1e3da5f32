"""Request validation as Connexion does it, with these things put right:

- messages name the parameter and the rule, and quote only an excerpt of the value;
- a spec's `pattern` means what JSON Schema (ECMA-262) says: `$` ends the value, where Python's `$`
  would also accept a trailing newline (`S1\\n` for `^S[1-5]$`), and `\\d` and `\\w` are ASCII, where
  Python's would also accept any script's digits and letters (Arabic-Indic `\\u0661` for `^\\d$`);
- a numeric parameter takes ASCII numerals only, where Python's `int()` and `float()` also read other
  scripts' digits, underscores, spaces, `nan` and `inf` (a `nan` passes any minimum and maximum);
- a single-valued query parameter given twice is refused, where Connexion silently kept the last one;
- a repeated array (`style: form`, exploded: the OpenAPI default, and what generated clients and Swagger
  UI send) takes each value as one item, commas and all, where Connexion split every value at its commas;
- a comma-separated array (`style: form, explode: false`) takes an item holding a comma in double quotes,
  as in a CSV line (`Winson,"Ashton Keynes, Wiltshire"`), where Connexion split inside the quotes;
- a repeated array marked `x-csv-line: true` also takes one value written as such a CSV line: the value
  passes if it is a valid item or a valid CSV line, and the service tells which it is (`servicekit.lists`).
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Iterator
from typing import Any

from connexion.exceptions import BadRequestProblem
from jsonschema import Draft4Validator, Draft202012Validator, ValidationError
from jsonschema.exceptions import best_match
from jsonschema.validators import extend

from servicekit.excerpts import excerpt
from servicekit.internals.connexion import (
    VALIDATOR_MAP,
    Draft4RequestValidator,
    JSONRequestBodyValidator,
    MediaTypeDict,
    OpenAPIURIParser,
    format_error_with_path,
    is_null,
    is_nullable,
)
from servicekit.internals.connexion import (
    ParameterValidator as ConnexionParameterValidator,
)
from servicekit.problems import InvalidParams

# The extension that lets a repeated array parameter also be written as one CSV line.
CSV_LINE = "x-csv-line"
# The formats a value is checked against: JSON Schema 2020-12's, whose checker knows `date` and `uuid`,
# where the Draft 4 one Connexion uses knows neither and passes any value. `date-time` and `uri` are
# checked only with jsonschema's format-nongpl extra installed: without it they too pass anything.
FORMATS = Draft202012Validator.FORMAT_CHECKER
# What a parameter of each numeric type may be written as, before Python reads it.
NUMERALS = {
    "integer": re.compile(r"[+-]?[0-9]+"),
    "number": re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?"),
}


@functools.lru_cache(maxsize=256)
def python_pattern(ecma_pattern: str) -> re.Pattern[str]:
    """The spec's pattern with each `$` outside a character class made `\\Z`, Python's end of string, and
    its classes ASCII (`\\d`, `\\w`, `\\b`). Python's ASCII `\\s` also leaves out the Unicode spaces
    ECMA-262's takes: a pattern that means to accept them names them."""
    translated, escaped, in_class = [], False, False
    for character in ecma_pattern:
        if escaped:
            escaped = False
        elif character == "\\":
            escaped = True
        elif character == "[":
            in_class = True
        elif character == "]":
            in_class = False
        elif character == "$" and not in_class:
            character = r"\Z"
        translated.append(character)
    return re.compile("".join(translated), re.ASCII)


def _matches_pattern(
    validator: Any, pattern: str, instance: object, _schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not python_pattern(pattern).search(str(instance)):
        yield ValidationError(f"{excerpt(instance)} does not match {pattern!r}")


SchemaValidator = extend(Draft4Validator, {"pattern": _matches_pattern})  # type: ignore[no-untyped-call]
BodySchemaValidator = extend(Draft4RequestValidator, {"pattern": _matches_pattern})  # type: ignore[no-untyped-call]


# How a value of each format is written, for a refusal to say: "'31/12/2024' is not a 'date'" alone leaves
# the caller guessing.
FORMAT_FORMS = {
    "date": "YYYY-MM-DD",
    "date-time": "YYYY-MM-DDThh:mm:ssZ, RFC 3339",
    "email": "name@domain",
    "uri": "scheme:rest, RFC 3986, such as https://host/path",
    "uuid": "8-4-4-4-12 hexadecimal digits",
}


def described(error: ValidationError) -> str:
    """jsonschema's message, quoting an excerpt of the value instead of all of it, and for a format how its
    values are written."""
    message = error.message.replace(repr(error.instance), excerpt(error.instance), 1)
    form = FORMAT_FORMS.get(str(error.validator_value)) if error.validator == "format" else None
    return f"{message} ({form})" if form else message


class ParameterValidator(ConnexionParameterValidator):  # type: ignore[misc]
    """Connexion's own validator reports a bare jsonschema dump that never names the parameter. A refusal is
    raised here, as an InvalidParams problem, rather than returned as Connexion's bare message."""

    @staticmethod
    def validate_parameter(
        parameter_type: str, value: Any, param: dict[str, Any], param_name: str | None = None
    ) -> None:
        name = param_name or param["name"]
        if is_nullable(param) and is_null(value):
            return
        if value is None:
            if param.get("required"):
                raise InvalidParams(f"Missing {parameter_type} parameter '{name}'", [(name, "is required")])
            return
        error = _schema_error(param, value)
        if error is not None and _may_be_csv_line(param, value):
            # Valid if either reading is; refused in the words of the CSV line, which its commas or quotes suggest.
            refusal = _csv_line_refusal(param, value[0])
            if refusal is not None:
                raise refusal
        elif error is not None:
            raise invalid_parameter(parameter_type, name, described(error))

    def validate_query_parameter_list(self, request: Any, security_params: Any = None) -> set[str]:
        """Under strict validation, a query parameter the operation does not declare is refused here, in
        Connexion's words, naming each in `invalid_params`."""
        extra = super().validate_query_parameter_list(request, security_params)
        if extra:
            detail = f"Extra query parameter(s) {','.join(extra)} not in spec"
            raise InvalidParams(detail, [(name, "is not a parameter of this operation") for name in sorted(extra)])
        return set()


def invalid_parameter(parameter_type: str, name: str, reason: str) -> InvalidParams:
    return InvalidParams(f"Invalid {parameter_type} parameter '{name}': {reason}", [(name, reason)])


def _schema_error(param: dict[str, Any], value: Any) -> ValidationError | None:
    validator = SchemaValidator(param.get("schema", param), format_checker=FORMATS)
    return next(iter(validator.iter_errors(value)), None)


def _may_be_csv_line(param: dict[str, Any], value: Any) -> bool:
    """A single value of an `x-csv-line` array, holding what makes a CSV line more than one item."""
    is_single = isinstance(value, list) and len(value) == 1 and isinstance(value[0], str)
    return bool(param.get(CSV_LINE)) and is_single and reads_as_more_than_itself(value[0])


def reads_as_more_than_itself(value: str) -> bool:
    """Whether `value` read as a CSV line may be other than the one item it is: it holds a comma or a quote."""
    return any(character in value for character in ',"')


def csv_line(name: str, value: str) -> list[str]:
    """The items of parameter `name`'s value read as one CSV line (`Winson,"Ashton Keynes, Wiltshire"`), or
    an InvalidParams problem naming the parameter and saying how to write one."""
    try:
        if "\n" in value or "\r" in value:  # csv would take it for the line's end and drop what follows
            raise csv.Error("a line break")
        return next(csv.reader([value], skipinitialspace=True, strict=True), [])
    except csv.Error as error:
        reason = (
            f"{excerpt(value)} is not a comma-separated list ({error}); "
            'a value holding a comma goes in double quotes: a,"b, c"'
        )
        raise invalid_parameter("query", name, reason) from None


def checked_csv_line(param: dict[str, Any], line: str) -> list[str]:
    """The items of `line` read as a CSV line, each meeting the parameter's rules, or an InvalidParams
    naming the parameter and the rule."""
    refusal = _csv_line_refusal(param, line)
    if refusal is not None:
        raise refusal
    return csv_line(param["name"], line)


def _csv_line_refusal(param: dict[str, Any], line: str) -> InvalidParams | None:
    try:
        error = _schema_error(param, csv_line(param["name"], line))
    except InvalidParams as not_a_line:
        return not_a_line
    if error is None:
        return None
    return invalid_parameter(
        "query", param["name"], f"{described(error)}, in {excerpt(line)} read as a comma-separated list"
    )


class BodyValidator(JSONRequestBodyValidator):  # type: ignore[misc]
    @property
    def _validator(self) -> Any:
        return BodySchemaValidator(self._schema, format_checker=FORMATS)

    async def _parse(self, stream: Any, scope: Any) -> Any:
        try:
            return await super()._parse(stream, scope)
        except UnicodeDecodeError:
            raise BadRequestProblem(detail=f"The body is not {self._encoding}.") from None

    def _validate(self, body: Any) -> None:
        if not self._nullable and body is None:
            raise InvalidParams("Request body must not be empty", [("$", "is required")])
        validator = self._validator
        errors = sorted(validator.iter_errors(body), key=lambda error: list(map(str, error.absolute_path)))
        if errors:
            detailed = best_match(errors)
            raise InvalidParams(
                f"{described(detailed)}{format_error_with_path(exception=detailed)}",
                _refused_fields(errors),
            )


def _refused_fields(errors: list[ValidationError]) -> list[tuple[str, str]]:
    """Each field the errors are about, by its JSON path, with why: a missing one by its own path rather
    than its object's (jsonschema gives each its own error, all alike but for the message)."""
    fields: dict[tuple[str, str], None] = {}
    for error in errors:
        required = error.schema.get("required", []) if isinstance(error.schema, dict) else []
        if error.validator == "required" and isinstance(error.instance, dict):
            missing = (name for name in required if name not in error.instance)
            fields |= {(f"{error.json_path}.{name}", "is required"): None for name in missing}
        else:
            fields[(error.json_path, described(error))] = None
    return list(fields)


class SingleValueURIParser(OpenAPIURIParser):  # type: ignore[misc]
    """A query parameter given more than once is refused unless it is an exploded array
    (`?id=1&id=2`): Connexion would keep only the last value, a silently shorter answer. Each value of
    an exploded array is one item; a comma-separated one is read as a CSV line."""

    @staticmethod
    def _resolve_param_duplicates(values: list[str], param_defn: dict[str, Any], _in: str) -> Any:
        if _in == "query" and _is_repeated_form(param_defn):
            return list(values)  # Connexion would join them with commas, then split every value at its own
        return OpenAPIURIParser._resolve_param_duplicates(values, param_defn, _in)

    @staticmethod
    def _split(value: Any, param_defn: dict[str, Any], _in: str) -> list[str]:
        if isinstance(value, list):
            return value
        if _in != "query" or param_defn.get("style", "form") != "form":
            return OpenAPIURIParser._split(value, param_defn, _in)  # type: ignore[no-any-return]
        return csv_line(param_defn["name"], value)

    def resolve_params(self, params: dict[str, Any], _in: str) -> dict[str, Any]:
        for name, values in params.items():
            self._refuse_what_is_no_numeral(name, values, _in)
        return super().resolve_params(params, _in)  # type: ignore[no-any-return]

    def _refuse_what_is_no_numeral(self, name: str, values: Any, _in: str) -> None:
        schema = self.param_schemas.get(name) or {}
        is_array = schema.get("type") == "array"
        kind = (schema.get("items") or {}).get("type") if is_array else schema.get("type")
        if kind not in NUMERALS:
            return
        # A path's number comes already read (an int), by the router's own converter, which takes ASCII only.
        texts = [value for value in (values if isinstance(values, list) else [values]) if isinstance(value, str)]
        comma_separated = is_array and not (_in == "query" and _is_repeated_form(self.param_defns[name]))
        for item in (part for value in texts for part in (value.split(",") if comma_separated else [value])):
            if not NUMERALS[kind].fullmatch(item) and not (is_nullable(self.param_defns[name]) and is_null(item)):
                raise invalid_parameter(_in, name, f"{excerpt(item)} is not of type '{kind}'")

    def resolve_query(self, query_data: dict[str, list[str]]) -> dict[str, Any]:
        for name, values in query_data.items():
            if len(values) > 1 and not self._takes_repeats(name):
                raise InvalidParams(
                    f"Query parameter '{name}' is given {len(values)} times; it takes one value.",
                    [(name, f"is given {len(values)} times; it takes one value")],
                )
        return super().resolve_query(query_data)  # type: ignore[no-any-return]

    def _takes_repeats(self, name: str) -> bool:
        definition = self.param_defns.get(name)
        if definition is None:  # strict validation refuses it as an unknown parameter
            return True
        return _is_repeated_form(definition)


def _is_repeated_form(definition: dict[str, Any]) -> bool:
    """An array written the OpenAPI default way: `?id=1&id=2`."""
    style = definition.get("style", "form")
    return bool(definition.get("schema", {}).get("type") == "array" and definition.get("explode", style == "form"))


def validator_map() -> dict[str, Any]:
    bodies = MediaTypeDict({**VALIDATOR_MAP["body"], "*/*json": BodyValidator})
    return {**VALIDATOR_MAP, "parameter": ParameterValidator, "body": bodies}

"""Request validation as Connexion does it, with messages that name the parameter and the rule."""

from __future__ import annotations

import copy
import datetime as dt
import re
from typing import Any

from connexion.utils import is_null, is_nullable
from connexion.validators import VALIDATOR_MAP
from connexion.validators import ParameterValidator as ConnexionParameterValidator
from jsonschema import Draft4Validator, ValidationError

# Draft 4, which Connexion validates parameters with, knows no `date` format: a YYYY-MM-DD string that
# names a real day (no 2026-02-30, no year 0).
FORMATS = copy.deepcopy(Draft4Validator.FORMAT_CHECKER)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return _ISO_DATE.fullmatch(value) is not None and bool(dt.date.fromisoformat(value))


FORMATS.checks("date", raises=ValueError)(is_date)


class ParameterValidator(ConnexionParameterValidator):  # type: ignore[misc]
    """Connexion's own validator reports a bare jsonschema dump that never names the parameter."""

    @staticmethod
    def validate_parameter(
        parameter_type: str, value: Any, param: dict[str, Any], param_name: str | None = None
    ) -> str | None:
        name = param_name or param["name"]
        if is_nullable(param) and is_null(value):
            return None
        if value is None:
            return f"Missing {parameter_type} parameter '{name}'" if param.get("required") else None
        try:
            Draft4Validator(param.get("schema", param), format_checker=FORMATS).validate(value)
        except ValidationError as error:
            return f"Invalid {parameter_type} parameter '{name}': {error.message}"
        return None


def validator_map() -> dict[str, Any]:
    return {**VALIDATOR_MAP, "parameter": ParameterValidator}

"""Request validation as Connexion does it, with messages that name the parameter and the rule."""

from __future__ import annotations

from typing import Any

from connexion.utils import is_null, is_nullable
from connexion.validators import VALIDATOR_MAP
from connexion.validators import ParameterValidator as ConnexionParameterValidator
from jsonschema import Draft4Validator, ValidationError


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
            Draft4Validator(param.get("schema", param), format_checker=Draft4Validator.FORMAT_CHECKER).validate(value)
        except ValidationError as error:
            return f"Invalid {parameter_type} parameter '{name}': {error.message}"
        return None


def validator_map() -> dict[str, Any]:
    return {**VALIDATOR_MAP, "parameter": ParameterValidator}

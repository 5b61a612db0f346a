"""geoPoint: `{"lon": x, "lat": y}` stored as JSON text (field_geo_point.go).

Anything that does not decode cleanly into that object (a string where a number belongs, an
array, garbage text) becomes the zero point rather than an error, as the binary does.
"""

from __future__ import annotations

import json
from typing import Any

from core.store.fields.base import FieldError, FieldType, ValidationContext, required_error
from core.store.fields.cast import format_json_number, json_number, to_float
from core.store.schema import Field

COLUMN = """JSON DEFAULT '{"lon":0,"lat":0}' NOT NULL"""


def zero_point() -> dict[str, Any]:
    return {"lon": 0, "lat": 0}


def _coordinate(raw: Any) -> float | None:
    if raw is None:
        return 0.0
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    return float(raw)


def to_point(raw: Any) -> dict[str, Any]:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if isinstance(raw, str):
        if raw == "":
            return zero_point()
        try:
            raw = json.loads(raw)
        except ValueError:
            return zero_point()
    if not isinstance(raw, dict):
        return zero_point()
    # keys match exactly ("Lon" is ignored); unknown keys are fine
    lon, lat = _coordinate(raw.get("lon")), _coordinate(raw.get("lat"))
    if lon is None or lat is None:
        return zero_point()
    return {"lon": json_number(lon), "lat": json_number(lat)}


class GeoPointType(FieldType):
    name = "geoPoint"

    def column_type(self, field: Field) -> str:
        return COLUMN

    def zero(self, field: Field) -> Any:
        return zero_point()

    def normalize(self, field: Field, raw: Any) -> Any:
        return to_point(raw)

    def validate(self, field: Field, value: Any, ctx: ValidationContext) -> None:
        point = to_point(value)
        lon, lat = to_float(point["lon"]), to_float(point["lat"])
        if lon == 0 and lat == 0:  # "Null Island" is the unset value
            if field.required:
                raise required_error()
            return
        if not -90 <= lat <= 90:
            raise FieldError("validation_invalid_latitude", "Latitude must be between -90 and 90 degrees.")
        if not -180 <= lon <= 180:
            raise FieldError(
                "validation_invalid_longitude", "Longitude must be between -180 and 180 degrees."
            )

    def to_db(self, field: Field, value: Any) -> Any:
        point = to_point(value)
        lon, lat = format_json_number(to_float(point["lon"])), format_json_number(to_float(point["lat"]))
        return f'{{"lon":{lon},"lat":{lat}}}'

    def from_db(self, field: Field, raw: Any) -> Any:
        return to_point(raw)

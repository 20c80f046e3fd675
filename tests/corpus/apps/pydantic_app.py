"""pydantic 2: pydantic-core (Rust) validation, serialization, JSON schema, errors."""
from datetime import date
from typing import Optional

from pydantic import BaseModel, Field, TypeAdapter, ValidationError


class Item(BaseModel):
    name: str
    qty: int = Field(ge=0)
    when: date
    tags: list[str] = []
    parent: Optional["Item"] = None


it = Item.model_validate_json('{"name": "a", "qty": "3", "when": "2024-02-29", "parent": {"name": "p", '
                              '"qty": 1, "when": "2020-01-01"}}')
print(it.model_dump_json())
try:
    Item(name="x", qty=-1, when="nope")
except ValidationError as e:
    print("errors", sorted((err["loc"], err["type"]) for err in e.errors()))
print("schema keys", sorted(Item.model_json_schema()["$defs"]["Item"]["properties"]))
print("adapter", TypeAdapter(list[int]).validate_python(["1", 2, 3.0]))

"""orjson (Rust): serialize dataclasses, numpy arrays, datetimes; options; round trip."""
import dataclasses
import datetime

import numpy as np
import orjson


@dataclasses.dataclass
class Rec:
    a: int
    b: str


data = {"recs": [Rec(i, "x" * i) for i in range(3)], "t": datetime.datetime(2024, 5, 1, 12, 30),
        "arr": np.arange(6, dtype=np.int64).reshape(2, 3), "f": 1.5}
raw = orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NAIVE_UTC)
print(raw.decode())
print("loads", orjson.loads(raw)["arr"])
print("indent", orjson.dumps({"z": 1, "a": [1]}, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode())

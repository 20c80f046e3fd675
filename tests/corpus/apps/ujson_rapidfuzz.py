"""ujson and rapidfuzz: two small C/C++ extensions used together."""
import ujson
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

choices = ["corpus app", "copper cap", "campus map", "corpse happ"]
best = process.extract("corpus map", choices, scorer=fuzz.WRatio, limit=3)
print(ujson.dumps([(c, round(s, 3)) for c, s, _ in best], sort_keys=True))
print("lev", Levenshtein.distance("kitten", "sitting"), Levenshtein.editops("ab", "ba").as_list())
print(ujson.loads('{"a": [1, 2.5, "x"], "b": null}'))

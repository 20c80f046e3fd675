"""regex: the C engine: fuzzy matching, Unicode properties, variable-length lookbehind."""
import regex

print(regex.findall(r"(?:corpus){e<=1}", "corpas corpus copus"))
print(regex.findall(r"\p{Greek}+", "alpha αβγ beta δε"))
print(regex.sub(r"(?<=\d{2,})x", "Y", "1x 22x 333x"))
print(regex.match(r"(?r)\d+", "abc123").group() if regex.match(r"(?r)\d+", "abc123") else None)
print(regex.split(r"\m", "two words"), regex.fullmatch(r"(\w)+", "abc").captures(1))

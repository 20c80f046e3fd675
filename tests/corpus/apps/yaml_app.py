"""PyYAML with libyaml: the C loader and dumper."""
import yaml

print("libyaml", yaml.__with_libyaml__)
doc = """
name: corpus
items: [1, 2, {a: b}]
anchors: &x {k: v}
ref: *x
multi: |
  line one
  line two
"""
data = yaml.load(doc, Loader=yaml.CSafeLoader)
print(sorted(data.items()))
print(yaml.dump(data, Dumper=yaml.CSafeDumper, sort_keys=True), end="")
print("events", len(list(yaml.parse(doc, Loader=yaml.CSafeLoader))))

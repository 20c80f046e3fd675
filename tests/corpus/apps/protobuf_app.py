"""protobuf: the upb C backend: a message type built at run time, well-known types, JSON and text formats."""
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory, struct_pb2, text_format
from google.protobuf import timestamp_pb2
from google.protobuf.internal import api_implementation

print("impl", api_implementation.Type())
fdp = descriptor_pb2.FileDescriptorProto(name="corpus.proto", package="corpus", syntax="proto3")
m = fdp.message_type.add(name="Point")
m.field.add(name="x", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_INT32,
            label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
m.field.add(name="tags", number=2, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
            label=descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED)
pool = descriptor_pool.DescriptorPool()
pool.Add(fdp)
Point = message_factory.GetMessageClass(pool.FindMessageTypeByName("corpus.Point"))
p = Point(x=150, tags=["a", "b"])
wire = p.SerializeToString()
print("wire", wire.hex())
print("parsed", Point.FromString(wire) == p, text_format.MessageToString(p, as_one_line=True))
print("json", json_format.MessageToJson(p, sort_keys=True, indent=None))
ts = timestamp_pb2.Timestamp(seconds=1700000000, nanos=5000)
print("timestamp", ts.ToJsonString())
s = struct_pb2.Struct()
s.update({"k": [1, "two", None]})
print("struct", s.SerializeToString().hex())

"""grpcio: an in-process server and client over a unix socket with generic (bytes) handlers."""
import os
import tempfile
from concurrent import futures

import grpc


def upper(request, context):
    return request.upper()


def count(request, context):
    for i in range(int(request)):
        yield b"%d" % (i * i)


handlers = grpc.method_handlers_generic_handler("corpus.Echo", {
    "Upper": grpc.unary_unary_rpc_method_handler(upper),
    "Count": grpc.unary_stream_rpc_method_handler(count),
})
path = os.path.join(tempfile.mkdtemp(), "grpc.sock")
server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
server.add_generic_rpc_handlers((handlers,))
server.add_insecure_port("unix:" + path)
server.start()
with grpc.insecure_channel("unix:" + path) as ch:
    print("upper", ch.unary_unary("/corpus.Echo/Upper")(b"hello grpc", timeout=20))
    print("count", list(ch.unary_stream("/corpus.Echo/Count")(b"6", timeout=20)))
server.stop(None).wait()
print("grpc", grpc.__version__.split(".")[0])

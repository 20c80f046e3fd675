"""pyzmq: libzmq (vendored) inproc PAIR and PUB/SUB sockets, multipart messages."""
import zmq

ctx = zmq.Context()
a, b = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
a.bind("inproc://corpus")
b.connect("inproc://corpus")
for i in range(5):
    a.send_multipart([b"k%d" % i, b"v" * i])
print("pair", [b.recv_multipart() for _ in range(5)])
pub, sub = ctx.socket(zmq.PUSH), ctx.socket(zmq.PULL)
pub.bind("inproc://pipe")
sub.connect("inproc://pipe")
pub.send_json({"n": 42, "l": [1, 2]})
print("json", sub.recv_json())
for s in (a, b, pub, sub):
    s.close()
ctx.term()
print("zmq major", zmq.zmq_version_info()[0])

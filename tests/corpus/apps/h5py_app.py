"""h5py: the vendored HDF5 library: gzip chunked datasets, attributes, groups, partial reads."""
import os
import tempfile

import h5py
import numpy as np

path = os.path.join(tempfile.mkdtemp(), "corpus.h5")
with h5py.File(path, "w") as f:
    g = f.create_group("g")
    g.create_dataset("m", data=np.arange(10000, dtype="f8").reshape(100, 100), compression="gzip",
                     chunks=(10, 10))
    g.attrs["note"] = "corpus"
    f.create_dataset("s", data=np.array([b"a", b"bc"]))
with h5py.File(path, "r") as f:
    d = f["g/m"]
    print("shape", d.shape, "chunks", d.chunks, "compression", d.compression)
    print("slice sum", float(d[10:20, 5:7].sum()), "attr", f["g"].attrs["note"])
    print("strings", f["s"][()].tolist())
print("hdf5", h5py.version.hdf5_version.split(".")[0])

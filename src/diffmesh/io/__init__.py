"""Files in and out: video decoding/encoding and result exports (npz, glTF, BVH, OBJ)."""

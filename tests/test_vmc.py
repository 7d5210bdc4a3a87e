"""VMC protocol sender: OSC encoding, the axis conversion, a real UDP socket, a live run, the CLI."""

from __future__ import annotations

import json
import logging
import socket
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from diffmesh.conventions import SMPL_JOINTS, SMPL_PARENTS
from diffmesh.geometry.rotations import axis_angle_to_rotmat
from diffmesh.pipelines.vmc import (
    SMPL_TO_HUMANOID,
    VmcSender,
    ntp_timetag,
    osc_bundle,
    osc_message,
    parse_vmc_address,
)

# ---------------------------------------------------------------------------------------------
# A small OSC 1.0 decoder of our own (checks the padding as it reads)


def _string(b: bytes, i: int) -> tuple[str, int]:
    end = b.index(b"\0", i)
    size = (end - i) // 4 * 4 + 4  # the terminating null included, then padded to 4
    assert b[end:i + size] == b"\0" * (i + size - end), "string padding must be nulls"  # fmt: skip
    return b[i:end].decode("ascii"), i + size


def decode(b: bytes) -> list[tuple[str, list]]:
    """Messages of a packet (a bundle is flattened); floats as Python floats."""
    assert len(b) % 4 == 0
    if b.startswith(b"#bundle\0"):
        (timetag,) = struct.unpack(">Q", b[8:16])
        assert timetag == 1  # "immediately"
        out, i = [], 16
        while i < len(b):
            (size,) = struct.unpack(">i", b[i : i + 4])
            assert size % 4 == 0
            out += decode(b[i + 4 : i + 4 + size])
            i += 4 + size
        assert i == len(b)
        return out
    address, i = _string(b, 0)
    tags, i = _string(b, i)
    assert tags.startswith(",")
    args: list = []
    for t in tags[1:]:
        if t == "i":
            args.append(struct.unpack(">i", b[i : i + 4])[0])
            i += 4
        elif t == "f":
            args.append(struct.unpack(">f", b[i : i + 4])[0])
            i += 4
        elif t == "s":
            s, i = _string(b, i)
            args.append(s)
        else:
            raise AssertionError(f"unexpected type tag {t!r}")
    assert i == len(b)
    return [(address, args)]


def _rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate ``v`` by the unit quaternion ``q = (x, y, z, w)`` (Hamilton; Unity's ``q * v``)."""
    u, w = q[:3], q[3]
    return v + 2 * w * np.cross(u, v) + 2 * np.cross(u, np.cross(u, v))


def _bones(msgs: list[tuple[str, list]]) -> dict[str, list]:
    return {a[0]: a[1:] for addr, a in msgs if addr == "/VMC/Ext/Bone/Pos"}


def _root(msgs: list[tuple[str, list]]) -> list:
    (args,) = [a for addr, a in msgs if addr == "/VMC/Ext/Root/Pos"]
    assert args[0] == "root"
    return args[1:]


# ---------------------------------------------------------------------------------------------


def test_osc_encoding_round_trip() -> None:
    m = osc_message("/VMC/Ext/Bone/Pos", "Hips", 1, 0.5, np.float32(-2.25))
    # "/VMC/Ext/Bone/Pos" is 17 characters: 3 nulls pad it to 20; ",siff" + 3 nulls; "Hips" + 4 nulls
    assert m[:20] == b"/VMC/Ext/Bone/Pos\0\0\0" and m[20:28] == b",siff\0\0\0" and m[28:36] == b"Hips\0\0\0\0"
    assert m[36:40] == b"\0\0\0\1"  # int32, big-endian
    assert m[40:44] == struct.pack(">f", 0.5) == b"\x3f\0\0\0"
    assert decode(m) == [("/VMC/Ext/Bone/Pos", ["Hips", 1, 0.5, -2.25])]
    assert decode(osc_message("/VMC/Ext/OK")) == [("/VMC/Ext/OK", [])]  # ",\0\0\0": an empty tag list
    b = osc_bundle([m, osc_message("/VMC/Ext/T", 3.0), osc_bundle([osc_message("/a", "xyz")])])
    assert b[:8] == b"#bundle\0" and struct.unpack(">i", b[16:20])[0] == len(m)
    assert decode(b) == [("/VMC/Ext/Bone/Pos", ["Hips", 1, 0.5, -2.25]), ("/VMC/Ext/T", [3.0]), ("/a", ["xyz"])]
    assert ntp_timetag(0.5) == (2_208_988_800 << 32) | (1 << 31)  # 1970 in NTP seconds, half a second
    with pytest.raises(TypeError, match="expected int, float or str"):
        osc_message("/x", True)


def _sender(port: int) -> VmcSender:
    rest = np.random.default_rng(0).normal(size=(24, 3))
    return VmcSender(f"127.0.0.1:{port}", rest, hips_height=0.9)


def _receiver() -> socket.socket:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))  # a free port
    rx.settimeout(5.0)
    return rx


def test_one_frame_over_udp_axes_and_bones() -> None:
    rx = _receiver()
    tx = _sender(rx.getsockname()[1])
    upright_facing_camera = np.diag([1.0, -1.0, -1.0])  # body up = camera -y, body forward = camera -z
    rotmats = np.tile(np.eye(3), (24, 1, 1))
    rotmats[0] = upright_facing_camera
    tx.send(rotmats, np.array([0.1, 0.2, 3.0]))
    msgs = decode(rx.recv(65536))
    assert [a for a, _ in msgs][0] == "/VMC/Ext/Root/Pos" and [a for a, _ in msgs][-2:] == ["/VMC/Ext/OK", "/VMC/Ext/T"]
    bones = _bones(msgs)
    assert sorted(bones) == sorted(SMPL_TO_HUMANOID.values()) and len(bones) == 22  # no SMPL hand joints
    for name, args in bones.items():
        np.testing.assert_allclose(args[3:], [0, 0, 0, 1], atol=1e-7, err_msg=name)  # identity pose
    root = _root(msgs)
    np.testing.assert_allclose(root[3:], [0, 0, 0, 1], atol=1e-7)  # faces Unity's +z, the humanoid forward
    # p_unity = -p_cam; the root sits h below the pelvis (Hips at (0, h, 0) in the root)
    np.testing.assert_allclose(root[:3], [-0.1, -0.2 - 0.9, -3.0], atol=1e-6)
    np.testing.assert_allclose(bones["Hips"][:3], [0, 0.9, 0], atol=1e-7)
    # a bone position is the parent offset mirrored in x (SMPL: x = body left; Unity: x = body right)
    j = SMPL_JOINTS.index("left_elbow")
    rest = np.random.default_rng(0).normal(size=(24, 3))  # _sender's rest joints
    want = (rest[j] - rest[SMPL_PARENTS[j]]) * [-1, 1, 1]
    np.testing.assert_allclose(bones["LeftLowerArm"][:3], want, atol=1e-6)
    # no person: only the status (tracking lost) and the time
    tx.send(None)
    msgs = decode(rx.recv(65536))
    assert [a for a, _ in msgs] == ["/VMC/Ext/OK", "/VMC/Ext/T"] and msgs[0][1] == [1, 3, 0, 0]
    assert tx.frames_sent == 2 and tx.errors == 0
    tx.close()
    rx.close()


def test_rotations_are_the_mirrored_ones() -> None:
    """Any pose: what a Unity receiver computes with the quaternions equals the mirrored SMPL result."""
    rx = _receiver()
    tx = _sender(rx.getsockname()[1])
    rng = np.random.default_rng(1)
    rotmats = axis_angle_to_rotmat(torch.from_numpy(rng.normal(scale=0.8, size=(24, 3)))).numpy()
    transl = np.array([-0.3, 0.4, 2.5])
    tx.send(rotmats, transl)
    msgs = decode(rx.recv(65536))
    M = np.diag([-1.0, 1.0, 1.0])
    v = rng.normal(size=3)
    for j, name in enumerate(SMPL_JOINTS[1:22], start=1):  # local rotation: M R M
        q = np.array(_bones(msgs)[SMPL_TO_HUMANOID[name]][3:])
        np.testing.assert_allclose(_rotate(q, M @ v), M @ rotmats[j] @ v, atol=1e-5, err_msg=name)
    root = np.array(_root(msgs))
    # the root: a body-frame vector u (Unity humanoid axes) lands where the camera frame puts it, in Unity axes
    u = rng.normal(size=3)
    np.testing.assert_allclose(_rotate(root[3:], u), -(rotmats[0] @ (M @ u)), atol=1e-5)
    # and the pelvis (root + q_root * Hips position) on -transl
    np.testing.assert_allclose(root[:3] + _rotate(root[3:], np.array([0, 0.9, 0])), -transl, atol=1e-5)
    tx.close()
    rx.close()


def test_send_errors_are_logged_once_and_never_raise(caplog: pytest.LogCaptureFixture) -> None:
    tx = _sender(9)
    tx.sockaddr = ("255.255.255.255", 9)  # broadcast without SO_BROADCAST: the kernel refuses each send
    with caplog.at_level(logging.WARNING, logger="diffmesh.pipelines.vmc"):
        for _ in range(3):
            tx.send(None)
    assert tx.errors == 3 and tx.frames_sent == 0
    assert len([r for r in caplog.records if "cannot send" in r.message]) == 1
    tx.close()


@pytest.mark.parametrize(
    "value",
    ["127.0.0.1", "127.0.0.1:", ":39539", "127.0.0.1:0", "127.0.0.1:70000", "127.0.0.1:abc", "no-such-host.invalid:39539"],
)
def test_bad_addresses_through_the_cli(value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from diffmesh.cli import main

    rc = main(["infer", str(tmp_path / "walk.mp4"), "--live", "--vmc", value, "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1, err
    assert repr(value) in err and "HOST:PORT" in err
    assert not (tmp_path / "out").exists()  # checked before anything ran


def test_vmc_needs_live(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from diffmesh.cli import main

    rc = main(["infer", str(tmp_path / "walk.mp4"), "--vmc", "127.0.0.1:39539", "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "add --live" in err, err


def test_address_forms() -> None:
    assert parse_vmc_address("127.0.0.1:39539")[:2] == ("127.0.0.1", 39539)
    assert parse_vmc_address("localhost:39540")[:2] == ("localhost", 39540)
    assert parse_vmc_address("[::1]:39539")[:2] == ("::1", 39539)


def test_live_run_sends_one_bundle_per_frame(tmp_path: Path) -> None:
    import diffmesh
    from diffmesh.pipelines.live import run_live
    from tests._videos import make_walk_video
    from tests.conftest import TINY

    visible = np.ones(10, bool)
    visible[6:8] = False  # two frames without a person
    make_walk_video(tmp_path / "walk.mp4", 10, visible=visible)
    torch.manual_seed(0)
    model = diffmesh.create_model("diffmesh", body_model="open", **TINY).eval()
    rx = _receiver()
    run_live(str(tmp_path / "walk.mp4"), tmp_path / "out", model, model.body_model, stride=4, realtime=False,
             vmc=f"127.0.0.1:{rx.getsockname()[1]}")  # fmt: skip
    lines = [json.loads(x) for x in (tmp_path / "out" / "live.jsonl").read_text().splitlines()]
    assert [r["person"] for r in lines] == visible.tolist()
    packets = [decode(rx.recv(65536)) for _ in lines]
    rx.settimeout(0.2)
    with pytest.raises(socket.timeout):
        rx.recv(65536)  # nothing more
    rx.close()
    h = VmcSender.for_body_model("127.0.0.1:1", model.body_model).hips_local
    for r, msgs in zip(lines, packets):
        if not r["person"]:
            assert msgs[0] == ("/VMC/Ext/OK", [1, 3, 0, 0]) and len(msgs) == 2  # tracking lost, the time
            continue
        assert len(_bones(msgs)) == 22 and ("/VMC/Ext/OK", [1, 3, 0, 1]) in msgs
        # the root is the line's global orientation and translation, converted as documented
        R = axis_angle_to_rotmat(torch.tensor(r["pose_axis_angle"][0], dtype=torch.float64)).numpy()
        root = np.array(_root(msgs))
        u = np.array([0.3, -0.2, 0.9])
        np.testing.assert_allclose(_rotate(root[3:], u), -(R @ (np.diag([-1.0, 1, 1]) @ u)), atol=1e-3)
        np.testing.assert_allclose(root[:3] + _rotate(root[3:], h), -np.array(r["transl"]), atol=1e-3)

"""Live results to avatar programs: the VMC protocol (OSC over UDP), performer side.

The VMC protocol (https://protocol.vmc.info) moves a humanoid avatar in a receiving program
(a "marionette": VSeeFace, EVMC4U in Unity, VMC4B in Blender, ...; default port 39539) with
Open Sound Control messages. Per frame with a person, one OSC bundle (timetag "immediately")::

    /VMC/Ext/Root/Pos  "root"  p.x p.y p.z  q.x q.y q.z q.w    body placement (see below)
    /VMC/Ext/Bone/Pos  NAME    p.x p.y p.z  q.x q.y q.z q.w    one per humanoid bone, local pose
    /VMC/Ext/OK        1 3 0 1                                 loaded, calibrated, normal mode, tracking
    /VMC/Ext/T         t                                       seconds since the sender started

A frame without a person sends only ``/VMC/Ext/OK 1 3 0 0`` (tracking lost) and ``/VMC/Ext/T``,
so the avatar holds its last pose. One bundle per frame keeps a frame's bones together (a
receiver never shows half of one frame and half of the next); it is about 2 KB.

Axes. Our root (``rotmats[0]``, ``transl``) is in the OpenCV camera frame C (x right, y down,
z forward, right-handed); :data:`~diffmesh.io.motion.CAMERA_TO_Y_UP` turns it into a right-handed
Y-up frame (x right, y up, +z toward the viewer). Unity is left-handed and Y-up, so one axis must
be mirrored; we mirror **x** of that Y-up frame, i.e. ``p_unity = -p_cam``. Why x and not z: a
person facing the camera then faces Unity's +z, the forward of a humanoid, so a receiver's usual
camera (in front of the avatar) shows the person as the video does, not from behind; and the
same mirror is the one between SMPL's body frame (x = the body's left, y up, z forward) and a
Unity humanoid's (x = the body's right), so one rule serves the root and the bones. A mirror M
turns a rotation R into ``M R M``: for the bones (M = diag(-1, 1, 1)) the quaternion
``(x, y, z, w)`` becomes ``(x, -y, -z, w)``; the root's orientation is
``Q = (-I) R_global diag(-1, 1, 1) = R_global diag(1, -1, -1)`` (camera → Unity on the world
side, avatar → SMPL body frame on the body side), the identity for an upright person facing
the camera.

Bones. SMPL's rest pose is a T-pose, like a Unity humanoid's (VRM models are normalised so that
every bone's local rotation is the identity in the T-pose, which is what VMC performers send
against), so each SMPL joint's local rotation maps to one humanoid bone's local rotation (the
table :data:`SMPL_TO_HUMANOID`). Assumed, not measured here: the receiving avatar is a normalised
VRM (or another humanoid whose bones are identity in a T-pose with arms along ±x). The SMPL hand
joints (22, 23) have no single humanoid bone (fingers) and are not sent; ``UpperChest`` and the
toes are optional humanoid bones, which avatars without them ignore (their rotation is lost).

Positions. Bone local positions are the body model's mean-shape T-pose offsets from the parent
(mirrored); receivers that apply only bone rotations, the usual setting, ignore them. ``Hips``
sits ``(0, h, 0)`` above the root (``h``: the rest pelvis height above the soles) and the root is
placed so that the pelvis lands on the fitted translation: ``root = -transl_cam - Q (0, h, 0)``.
With no translation (the fit failed) the last root position is kept.

The OSC encoding (1.0: big-endian int32 ``i`` and float32 ``f``, strings null-terminated and
padded to 4 bytes, bundles ``#bundle`` + 64-bit NTP timetag + size-prefixed elements) is written
here with :mod:`struct`; nothing else is needed.
"""

from __future__ import annotations

import logging
import socket
import struct
import time
from typing import Union

import numpy as np

from diffmesh.conventions import SMPL_JOINTS, SMPL_PARENTS
from diffmesh.io.motion import rotmat_to_quaternion_xyzw

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_VMC_PORT",
    "SMPL_TO_HUMANOID",
    "VmcSender",
    "osc_bundle",
    "osc_message",
    "parse_vmc_address",
]

#: The port marionettes (receivers) listen on by default.
DEFAULT_VMC_PORT = 39539

#: SMPL joint name -> Unity ``HumanBodyBones`` name (SMPL_JOINTS order; the hand joints have none).
SMPL_TO_HUMANOID: dict[str, str] = {
    "pelvis": "Hips", "left_hip": "LeftUpperLeg", "right_hip": "RightUpperLeg", "spine1": "Spine",
    "left_knee": "LeftLowerLeg", "right_knee": "RightLowerLeg", "spine2": "Chest",
    "left_ankle": "LeftFoot", "right_ankle": "RightFoot", "spine3": "UpperChest",
    "left_foot": "LeftToes", "right_foot": "RightToes", "neck": "Neck",
    "left_collar": "LeftShoulder", "right_collar": "RightShoulder", "head": "Head",
    "left_shoulder": "LeftUpperArm", "right_shoulder": "RightUpperArm",
    "left_elbow": "LeftLowerArm", "right_elbow": "RightLowerArm",
    "left_wrist": "LeftHand", "right_wrist": "RightHand",
}  # fmt: skip

#: OSC timetag meaning "process immediately" (OSC 1.0).
IMMEDIATELY = 1

_NTP_UNIX_OFFSET_S = 2_208_988_800  # seconds from 1900-01-01 (NTP epoch) to 1970-01-01
_MIRROR_X = np.diag([-1.0, 1.0, 1.0])  # SMPL body frame <-> Unity humanoid frame
_ROOT_BODY_SIDE = np.diag([1.0, -1.0, -1.0])  # Q = R_global @ this (module docstring)

OscArg = Union[int, float, str]


# ---------------------------------------------------------------------------------------------
# OSC 1.0 encoding


def _osc_string(s: str) -> bytes:
    """ASCII bytes, a terminating null, then nulls up to a multiple of 4 bytes."""
    b = s.encode("ascii") + b"\0"
    return b + b"\0" * (-len(b) % 4)


def osc_message(address: str, *args: OscArg) -> bytes:
    """One OSC message: address, type tags (``i`` int32, ``f`` float32, ``s`` string), arguments.

    ``bool`` is not an OSC 1.0 type; pass ``int``. Numpy scalars are accepted (floating → ``f``).
    """
    tags, payload = ",", b""
    for a in args:
        if isinstance(a, str):
            tags, payload = tags + "s", payload + _osc_string(a)
        elif isinstance(a, (int, np.integer)) and not isinstance(a, bool):
            tags, payload = tags + "i", payload + struct.pack(">i", int(a))
        elif isinstance(a, (float, np.floating)):
            tags, payload = tags + "f", payload + struct.pack(">f", float(a))
        else:
            raise TypeError(f"OSC argument {a!r} of type {type(a).__name__}: expected int, float or str")
    return _osc_string(address) + _osc_string(tags) + payload


def ntp_timetag(unix_time_s: float) -> int:
    """A 64-bit OSC timetag (NTP: seconds since 1900 in the high 32 bits, the fraction in the low)."""
    t = unix_time_s + _NTP_UNIX_OFFSET_S
    seconds = int(t)
    return (seconds << 32) | int((t - seconds) * (1 << 32))


def osc_bundle(elements: list[bytes], timetag: int = IMMEDIATELY) -> bytes:
    """An OSC bundle of encoded messages (or bundles), each prefixed by its int32 size."""
    body = b"".join(struct.pack(">i", len(e)) + e for e in elements)
    return _osc_string("#bundle") + struct.pack(">Q", timetag) + body


# ---------------------------------------------------------------------------------------------
# The address


def parse_vmc_address(value: str) -> tuple[str, int, socket.AddressFamily, tuple]:  # type: ignore[type-arg]
    """``"HOST:PORT"`` (``[IPv6]:PORT`` too) → host, port, socket family and resolved address.

    Raises:
        ValueError: no port, a port outside 1..65535, or a host name that does not resolve; the
            message names the value and the expected form.
    """
    form = f"--vmc {value!r}: expected HOST:PORT, for example 127.0.0.1:{DEFAULT_VMC_PORT}"
    host, sep, port_s = value.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port_s:
        raise ValueError(f"{form} (no {'port' if host else 'host'})")
    try:
        port = int(port_s)
    except ValueError:
        raise ValueError(f"{form} (port {port_s!r} is not a number)") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"{form} (port {port} is outside 1..65535)")
    try:
        info = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError) as err:
        raise ValueError(f"{form} (host {host!r} does not resolve: {err})") from None
    family, _, _, _, sockaddr = info[0]
    return host, port, family, sockaddr


# ---------------------------------------------------------------------------------------------
# The sender


class VmcSender:
    """Sends each frame's body to a VMC marionette at ``address`` (``"HOST:PORT"``) over UDP.

    Args:
        address: ``"HOST:PORT"``; checked (and the host resolved) here.
        rest_joints: ``[24, 3]`` mean-shape T-pose joints of the body model (metres, its Y-up
            frame), for the bone positions.
        hips_height: rest pelvis height above the soles (metres).

    Sending errors (an unreachable host or network) are logged once and counted in
    :attr:`errors`; they never raise, so a live run goes on without its receiver.
    """

    def __init__(self, address: str, rest_joints: np.ndarray, hips_height: float) -> None:
        self.host, self.port, family, self.sockaddr = parse_vmc_address(address)
        rest_joints = np.asarray(rest_joints, dtype=np.float64)
        if rest_joints.shape != (len(SMPL_JOINTS), 3):
            raise ValueError(f"rest_joints must have shape [{len(SMPL_JOINTS)}, 3], got {list(rest_joints.shape)}")
        self.hips_local = np.array([0.0, float(hips_height), 0.0])
        offsets = rest_joints - rest_joints[[max(p, 0) for p in SMPL_PARENTS]]  # [24, 3] from the parent
        self.bone_offsets = offsets @ _MIRROR_X.T  # Unity frame
        self.bones = [(j, SMPL_TO_HUMANOID[name]) for j, name in enumerate(SMPL_JOINTS) if name in SMPL_TO_HUMANOID]
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.started = time.perf_counter()
        self.root_pos = np.zeros(3)
        self.frames_sent = 0
        self.errors = 0

    @classmethod
    def for_body_model(cls, address: str, body_model: object) -> VmcSender:
        """A sender whose bone positions come from ``body_model``'s template (``v_template``,
        ``J_regressor``): the mean shape's T-pose."""
        v = body_model.v_template.detach().to("cpu").double().numpy()  # type: ignore[attr-defined]
        J = body_model.J_regressor.detach().to("cpu").double().numpy() @ v  # type: ignore[attr-defined]
        return cls(address, J[: len(SMPL_JOINTS)], hips_height=float(J[0, 1] - v[:, 1].min()))

    def frame_packet(self, rotmats: np.ndarray | None, transl_cam: np.ndarray | None = None) -> bytes:
        """The OSC bundle of one frame (see the module docstring).

        Args:
            rotmats: ``[24, 3, 3]`` SMPL local rotations, index 0 the global orientation in the
                camera frame; ``None``: no person in this frame.
            transl_cam: ``[3]`` pelvis position in the camera frame (metres); ``None`` or not
                finite: keep the last root position.
        """
        t = float(time.perf_counter() - self.started)
        if rotmats is None:
            return osc_bundle([osc_message("/VMC/Ext/OK", 1, 3, 0, 0), osc_message("/VMC/Ext/T", t)])
        rotmats = np.asarray(rotmats, dtype=np.float64)
        q_root_mat = rotmats[0] @ _ROOT_BODY_SIDE
        if transl_cam is not None and np.isfinite(transl_cam).all():
            self.root_pos = -np.asarray(transl_cam, dtype=np.float64) - q_root_mat @ self.hips_local
        q_root = rotmat_to_quaternion_xyzw(q_root_mat)
        q_local = rotmat_to_quaternion_xyzw(rotmats) * np.array([1.0, -1.0, -1.0, 1.0])  # M R M, M = diag(-1, 1, 1)
        msgs = [osc_message("/VMC/Ext/Root/Pos", "root", *self.root_pos, *q_root)]
        for j, name in self.bones:
            if j == 0:  # the body's orientation is the root's
                msgs.append(osc_message("/VMC/Ext/Bone/Pos", name, *self.hips_local, 0.0, 0.0, 0.0, 1.0))
            else:
                msgs.append(osc_message("/VMC/Ext/Bone/Pos", name, *self.bone_offsets[j], *q_local[j]))
        msgs += [osc_message("/VMC/Ext/OK", 1, 3, 0, 1), osc_message("/VMC/Ext/T", t)]
        return osc_bundle(msgs)

    def send(self, rotmats: np.ndarray | None, transl_cam: np.ndarray | None = None) -> None:
        """Send one frame (arguments as :meth:`frame_packet`); errors are logged once, never raised."""
        packet = self.frame_packet(rotmats, transl_cam)
        try:
            self.sock.sendto(packet, self.sockaddr)
            self.frames_sent += 1
        except OSError as err:
            if self.errors == 0:
                logger.warning("VMC: cannot send to %s:%d (%s); the live run goes on, later errors are not logged",
                               self.host, self.port, err)  # fmt: skip
            self.errors += 1

    def close(self) -> None:
        self.sock.close()

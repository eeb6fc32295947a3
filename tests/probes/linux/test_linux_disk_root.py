"""disk_encryption on Linux: finding the device under / (btrfs subvolumes and members, old and new
lsblk, mountinfo) against real outputs in test-data/disk_encryption/.

Where each file comes from:
- live-btrfs-subvolumes-*: util-linux 2.38.1 lsblk, findmnt and /proc/self/mountinfo captured on
  the Debian 12 test VM: a btrfs file system on a loop device with Fedora's subvolumes "root" and
  "home", mounted in that order at / and /home in a private mount namespace and read from a chroot
  into the "root" subvolume (so the kernel really shows it at /). The singular MOUNTPOINT column
  says "/home", the plural MOUNTPOINTS says ["/home", "/"]: util-linux issue #1272 ("lsblk will
  show only the last point of mounting", fixed by MOUNTPOINTS in 2.37) and rear PR #3348 ("a
  random one of the mounted btrfs subvolumes", SLE 15 SP6). No udev database on the VM, so
  FSTYPE and UUID are null, as lsblk prints them in containers.
- live-btrfs-raid1-*: the same VM, a btrfs RAID1 over two loop devices mounted at /: lsblk shows
  the mount on the first member only (the second member has no mountpoint at all; the same
  limitation for bcachefs is util-linux issue #4579). blkid in the same run gave both members
  UUID 22a114d6-506e-4bbe-b7e5-1e45cede5826, TYPE btrfs.
- live-overlay-root-*: the same VM, a chroot into an overlay mount (what a container sees).
- unknown-column-mountpoints-stderr.txt: lsblk before 2.37 asked for MOUNTPOINTS (exit 1); the
  message format was captured with lsblk 2.38.1 for another unknown column, and this exact line is
  quoted by projects that hit it on util-linux 2.32-2.36 hosts (Kylin V10 notes, a Yocto
  flashing script), found with the code search.
- mountinfo-fedora-btrfs-on-luks-backup-btrfs.txt: a Fedora btrfs-on-LUKS /proc/self/mountinfo
  (subvolumes /root and /home on /dev/mapper/luks-<UUID>, SELinux "seclabel", compress=zstd:1)
  in hannes-hochreiner/backup-btrfs src/commands/get_mount_information.rs (leading blanks
  removed).
- fedora-btrfs-on-luks-mountpoints.txt / -old-mountpoint.txt: the lsblk tree of that machine
  (RECONSTRUCTED: the devices and mounts of that mountinfo, the LUKS partition as nvme0n1p3 the
  way Fedora's installer lays it out, zram swap; UUIDs other than the LUKS one made up), written
  as lsblk 2.38.1 prints JSON (layout of the live captures) with MOUNTPOINTS in the backward
  mountinfo order lsblk uses, and with the one MOUNTPOINT an old lsblk shows (the last mount).
- mountinfo-ubuntu-zfs-root-btop-201.txt: the root line of an Ubuntu ZFS install
  ("rpool/ROOT/ubuntu_bcqdgs on / type zfs (rw,relatime,xattr,posixacl)", aristocratos/btop
  issue #201) written in mountinfo form (RECONSTRUCTED; ids and device number made up).
- silverblue-composefs-btrfs-mountpoints.txt: the Fedora Silverblue lsblk tree of
  fedora-silverblue/silverblue-docs issue #145 (btrfs on sda3 with /var/home, /var, /usr, /etc,
  /sysroot...) as JSON, without its "/" entry, as a composefs root leaves it (RECONSTRUCTED; UUIDs
  made up); mountinfo-fedora-atomic-composefs-root.txt: the "/" line of `findmnt /` on a Fedora
  Atomic spin ("composefs overlay ro,relatime,seclabel,lowerdir+=/run/ostree/.private/
  cfsroot-lower,...", matthart1983/syswatch issue #9, also ublue-os/bazzite #2493) and the
  /sysroot line of that layout, in mountinfo form (RECONSTRUCTED; ids and numbers made up).
- mountinfo-ubuntu-21.10-btrfs-subvolume-dysk-32.txt: Ubuntu 21.10 on a btrfs subvolume,
  /proc/self/mountinfo from Canop/dysk issue #32 (first lines of the paste).
"""
from __future__ import annotations

import copy
import json

import pytest

from linux_probe_helpers import cmd, data, host
from probes.host import RecordedHost
from probes.linux import disk_encryption as de

NEW = ["lsblk", "--json", "--output", "NAME,TYPE,FSTYPE,UUID,MOUNTPOINTS"]
OLD = ["lsblk", "--json", "--output", "NAME,TYPE,FSTYPE,MOUNTPOINT"]
RAID_UUID = "22a114d6-506e-4bbe-b7e5-1e45cede5826"


def tree(name):
    return de.parse_tree(data("disk_encryption", name))


def mount(name):
    return de.root_mount(data("disk_encryption", name))


# -- lsblk alone ----------------------------------------------------------------------------
@pytest.mark.parametrize("name, expected", [
    ("live-btrfs-subvolumes-root-mountpoint.txt", None),    # the trap: "/home" shown, not "/"
    ("live-btrfs-subvolumes-root-mountpoints.txt", "off"),  # "/" second in the list
    ("live-btrfs-raid1-root-mountpoints.txt", "off"),
    ("live-btrfs-raid1-root-mountpoint.txt", "off"),
    ("live-overlay-root-mountpoints.txt", None),
    ("fedora-btrfs-on-luks-mountpoints.txt", "on"),          # crypt node carries the btrfs
    ("fedora-btrfs-on-luks-old-mountpoint.txt", None),      # old lsblk: a subvolume's mount only
])
def test_lsblk_alone(name, expected):
    assert de.parse(data("disk_encryption", name)) == expected


# -- /proc/self/mountinfo -------------------------------------------------------------------
@pytest.mark.parametrize("name, expected", [
    ("mountinfo-fedora-btrfs-on-luks-backup-btrfs.txt",
     {"fstype": "btrfs", "source": "/dev/mapper/luks-0f3f6c5e-621a-40d8-8be8-c372eaf2d616"}),
    ("mountinfo-ubuntu-21.10-btrfs-subvolume-dysk-32.txt", {"fstype": "btrfs", "source": "/dev/nvme0n1p6"}),
    ("mountinfo-ubuntu-zfs-root-btop-201.txt", {"fstype": "zfs", "source": "rpool/ROOT/ubuntu_bcqdgs"}),
    ("live-overlay-root-mountinfo.txt", {"fstype": "overlay", "source": "overlay"}),
    ("live-btrfs-subvolumes-mountinfo.txt", {"fstype": "btrfs", "source": "/dev/loop0"}),
    ("live-btrfs-raid1-mountinfo.txt", {"fstype": "btrfs", "source": "/dev/loop1"}),
    ("mountinfo-fedora-atomic-composefs-root.txt", {"fstype": "overlay", "source": "composefs"}),
])
def test_root_mount(name, expected):
    assert mount(name) == expected


@pytest.mark.parametrize("text, expected", [
    (None, None), ("", None), ("garbage\n", None), ("1 2 3 - x\n", None),
    ("22 1 0:21 / /proc rw - proc proc rw\n", None),                       # no / at all
    # the later mount at / is the one on top (a live system remounting its root)
    ("1 0 0:2 / / rw - rootfs rootfs rw\n2 1 8:1 / / rw - ext4 /dev/sda1 rw\n",
     {"fstype": "ext4", "source": "/dev/sda1"}),
    ("2 1 8:1 / /mnt/with\\040space rw - ext4 /dev/disk\\040x rw\n", None),
    ("2 1 8:1 / / rw shared:1 master:2 - ext4 /dev/disk\\040x rw\n",   # optional fields, escapes
     {"fstype": "ext4", "source": "/dev/disk x"}),
    ("2 1 8:1 / / rw -\n", None),
])
def test_root_mount_edge_cases(text, expected):
    assert de.root_mount(text) == expected


# -- lsblk and mountinfo together ------------------------------------------------------------
@pytest.mark.parametrize("tree_name, mount_name, expected", [
    # old lsblk shows "/home" (or another subvolume): the device is found by its name
    ("live-btrfs-subvolumes-root-mountpoint.txt", "live-btrfs-subvolumes-mountinfo.txt", ("off", None)),
    ("fedora-btrfs-on-luks-old-mountpoint.txt", "mountinfo-fedora-btrfs-on-luks-backup-btrfs.txt",
     ("on", None)),
    ("live-overlay-root-mountpoints.txt", "live-overlay-root-mountinfo.txt", (None, de.NO_DISK)),
    ("ubuntu-24.04-fixture.txt", "mountinfo-ubuntu-zfs-root-btop-201.txt", (None, de.ZFS_ROOT)),
    # Fedora Atomic with composefs: / is an overlay, the disk is the one mounted at /sysroot
    ("silverblue-composefs-btrfs-mountpoints.txt", "mountinfo-fedora-atomic-composefs-root.txt", ("off", None)),
    ("silverblue-composefs-btrfs-mountpoints.txt", "live-overlay-root-mountinfo.txt", (None, de.NO_DISK)),
    ("fedora-btrfs-on-luks-old-mountpoint.txt", "mountinfo-fedora-atomic-composefs-root.txt", (None, de.NO_DISK)),
    # a btrfs root whose device is not in the tree stays unknown
    ("live-overlay-root-mountpoints.txt", "mountinfo-ubuntu-21.10-btrfs-subvolume-dysk-32.txt",
     (None, de.NO_ROOT)),
])
def test_decide_with_mountinfo(tree_name, mount_name, expected):
    assert de.decide(tree(tree_name), mount(mount_name)) == expected


def test_source_names():
    assert de._source_name("/dev/mapper/luks-1") == "luks-1"
    assert de._source_name("/dev/nvme0n1p6") == "nvme0n1p6"
    assert de._source_name("/dev/root") is None          # the kernel's placeholder, not a name
    assert de._source_name("rpool/ROOT/ubuntu") is None
    assert de._source_name("overlay") is None
    assert de._source_name("/dev/") is None


def test_name_match_skips_a_parent_with_the_same_name():
    # a device named like the source but with children (the LUKS partition) is not the mount
    devices = [{"name": "root", "type": "part", "fstype": "crypto_LUKS",
                "children": [{"name": "x", "type": "crypt"}]}]
    assert de.decide(devices, {"fstype": "btrfs", "source": "/dev/mapper/root"}) == (None, de.NO_ROOT)


# -- btrfs over several devices -------------------------------------------------------------
def raid1(wrap_first=False, wrap_second=False, uuid=RAID_UUID, second_mount=None):
    """The live RAID1 tree with the FSTYPE/UUID blkid reported for it in the same run; a member
    can be put under a crypt mapping (SYNTHETIC variation: the test VM has no dm-crypt)."""
    devices = copy.deepcopy(tree("live-btrfs-raid1-root-mountpoints.txt"))
    by_name = {d["name"]: d for d in devices}
    for name, wrap in (("loop1", wrap_first), ("loop2", wrap_second)):
        node = by_name[name]
        fs = {"fstype": "btrfs", "uuid": uuid, "mountpoints": node["mountpoints"]}
        if name == "loop2" and second_mount:
            fs["mountpoints"] = [second_mount]
        if wrap:
            node.update(fstype="crypto_LUKS", uuid="0d7e1b2c-0000-4000-8000-00000000000" + name[-1],
                        mountpoints=[None],
                        children=[dict(name=f"luks-{name}", type="crypt", **fs)])
        else:
            node.update(fs)
    return devices


@pytest.mark.parametrize("kwargs, expected", [
    (dict(wrap_first=True, wrap_second=True), ("on", None)),
    (dict(wrap_first=True), ("off", None)),                 # the other member is plain
    (dict(wrap_first=True, uuid=None), (None, de.SPANS)),   # cannot tell the members apart
    (dict(wrap_first=True, wrap_second=True, uuid=None), ("on", None)),
    (dict(wrap_first=True, uuid=None, second_mount="/data"), ("on", None)),  # mounted: its own fs
    (dict(wrap_first=True, wrap_second=False), ("off", None)),
])
def test_btrfs_members(kwargs, expected):
    assert de.decide(raid1(**kwargs)) == expected


def test_btrfs_other_filesystem_does_not_count():
    devices = raid1(wrap_first=True)
    by_name = {d["name"]: d for d in devices}
    by_name["loop2"]["uuid"] = "99999999-0000-4000-8000-000000000000"   # another btrfs
    assert de.decide(devices) == ("on", None)


def test_btrfs_root_known_only_from_mountinfo():
    # no udev for the root's FSTYPE, mountinfo says btrfs, and an unmounted plain btrfs device
    # elsewhere could be a member (SYNTHETIC tree)
    root = {"name": "nvme0n1", "type": "disk", "fstype": None, "children": [
        {"name": "luks-a", "type": "crypt", "fstype": None, "mountpoints": ["/"]}]}
    plain = {"name": "sdb", "type": "disk", "fstype": "btrfs", "uuid": None, "mountpoints": [None]}
    btrfs_root = {"fstype": "btrfs", "source": "/dev/mapper/luks-a"}
    assert de.decide([root, plain], btrfs_root) == (None, de.SPANS)
    assert de.decide([root], btrfs_root) == ("on", None)
    assert de.decide([root, plain], {"fstype": "ext4", "source": "/dev/mapper/luks-a"}) == ("on", None)


# -- the probe: which lsblk, then mountinfo --------------------------------------------------
class Spy(RecordedHost):
    def __init__(self, data):
        super().__init__(data)
        self.argvs, self.files = [], []

    def run(self, argv, timeout=10.0):
        self.argvs.append(list(argv))
        return super().run(argv, timeout)

    def read_text(self, path):
        self.files.append(path)
        return super().read_text(path)


def spy(commands=(), files=None):
    return Spy({"platform": "linux", "commands": list(commands), "files": files or {}})


def test_probe_reads_mountpoints_first_and_stops():
    h = spy([cmd(NEW, data("disk_encryption", "fedora-btrfs-on-luks-mountpoints.txt"))])
    fact = de.probe(h)
    assert fact.observed == {"state": "on"} and not fact.unread
    assert h.argvs == [de.LSBLK] and h.files == []


def test_probe_old_util_linux_falls_back_and_reads_mountinfo():
    h = spy([cmd(NEW, "", data("disk_encryption", "unknown-column-mountpoints-stderr.txt"), 1),
             cmd(OLD, data("disk_encryption", "fedora-btrfs-on-luks-old-mountpoint.txt"))],
            files={de.MOUNTINFO: data("disk_encryption", "mountinfo-fedora-btrfs-on-luks-backup-btrfs.txt")})
    fact = de.probe(h)
    assert fact.observed == {"state": "on"}
    assert h.argvs == [de.LSBLK, de.LSBLK_OLD] and h.files == [de.MOUNTINFO]


def test_probe_old_capture_without_the_new_argv_still_replays():
    fact = de.probe(host([cmd(OLD, data("disk_encryption", "fedora-44-fixture.txt"))]))
    assert fact.observed == {"state": "on"}


@pytest.mark.parametrize("error, reason", [("timeout", "lsblk timed out"),
                                           ("denied", "lsblk needs administrator rights")])
def test_probe_does_not_retry_a_hanging_lsblk(error, reason):
    h = spy([cmd(NEW, error=error), cmd(OLD, data("disk_encryption", "fedora-44-fixture.txt"))])
    fact = de.probe(h)
    assert fact.unread == {"state": reason} and h.argvs == [de.LSBLK]


def test_probe_new_garbage_falls_back_to_old():
    h = host([cmd(NEW, "not json"), cmd(OLD, data("disk_encryption", "debian-12-fixture.txt"))])
    assert de.probe(h).observed == {"state": "on"}


def test_probe_both_fail_gives_the_old_reason():
    h = host([cmd(NEW, "", data("disk_encryption", "unknown-column-mountpoints-stderr.txt"), 1),
              cmd(OLD, "", data("disk_encryption", "no-sysfs-error.txt"), 32)])
    assert de.probe(h).unread == {"state": "lsblk gave no answer (exit 32)"}
    assert de.probe(host([])).unread == {"state": "lsblk is not available"}


@pytest.mark.parametrize("tree_name, mountinfo, reason", [
    ("live-overlay-root-mountpoints.txt", "live-overlay-root-mountinfo.txt", de.NO_DISK),
    ("ubuntu-24.04-fixture.txt", "mountinfo-ubuntu-zfs-root-btop-201.txt", de.ZFS_ROOT),
    ("ubuntu-24.04-fixture.txt", None, de.NO_ROOT),
    ("ubuntu-24.04-fixture.txt", "mountinfo-ubuntu-21.10-btrfs-subvolume-dysk-32.txt", de.NO_ROOT),
])
def test_probe_unknown_reasons(tree_name, mountinfo, reason):
    files = {de.MOUNTINFO: data("disk_encryption", mountinfo)} if mountinfo else {}
    fact = de.probe(host([cmd(NEW, data("disk_encryption", tree_name))], files=files))
    assert fact.observed == {} and fact.unread == {"state": reason}


def test_reasons_are_plain_words():
    for reason in (de.NO_ROOT, de.ZFS_ROOT, de.NO_DISK, de.SPANS):
        assert "overlay" not in reason and "lsblk" not in reason and reason == reason.strip()


def test_live_capture_json_is_what_lsblk_printed():
    # the live files are lsblk's own output, unedited (sanity check of the test data)
    text = data("disk_encryption", "live-btrfs-subvolumes-root-mountpoints.txt")
    assert json.loads(text)["blockdevices"][0]["mountpoints"] == ["/home", "/"]


# -- whatever the host answers: a Fact, never an exception ------------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

MOUNT_HINTS = ["65 1 0:32 /root / rw - btrfs /dev/mapper/luks-a rw", "1 0 0:2 / / rw - overlay overlay rw",
               "2 1 0:3 / / rw - zfs rpool/ROOT/x rw", "3 1 8:1 / / rw - ext4 /dev/root rw", " - ", "/ /"]
TREE_HINTS = ['{"blockdevices": [{"name": "luks-a", "type": "crypt", "fstype": "btrfs", "uuid": "u", '
              '"mountpoints": ["/home"]}, {"name": "b", "fstype": "btrfs", "uuid": "u"}]}',
              '{"blockdevices": [{"name": "a", "fstype": "btrfs", "mountpoints": ["/", null]}]}', "{", ""]
node = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.sampled_from(["/", "btrfs", "crypt", "u", "luks-a"])),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(
        st.sampled_from(["blockdevices", "children", "mountpoint", "mountpoints", "type", "fstype",
                         "name", "uuid"]), inner, max_size=6)),
    max_leaves=30)
answer = st.one_of(st.sampled_from(TREE_HINTS), node.map(json.dumps), st.text(max_size=80))


@settings(max_examples=150, deadline=None)
@given(new=answer, old=answer, code=st.sampled_from([0, 1, 32, None]),
       mountinfo=st.one_of(st.none(), st.sampled_from(MOUNT_HINTS), st.text(max_size=120),
                           st.lists(st.sampled_from(MOUNT_HINTS), max_size=4).map("\n".join)))
def test_probe_never_raises(new, old, code, mountinfo):
    files = {de.MOUNTINFO: mountinfo} if mountinfo is not None else {}
    fact = de.probe(host([cmd(NEW, new, "", code), cmd(OLD, old)], files=files))
    assert (fact.observed.get("state") in ("on", "off")) != bool(fact.unread)

#!/usr/bin/env python3
"""Generate toolchain/embedded-linux.artifactbundle: midge's local Swift SDK bundle.

This script is the single source of truth for every cross-compilation flag. The bundle it
writes is committed, so the output must be byte-for-byte deterministic: no timestamps, no
absolute paths of the machine running it (only the fixed Debian multiarch paths), stable key
order, and a trailing newline on every file.

Six flavours, one SwiftPM artifact each: {x86_64, aarch64, armv7} x {gnu, musl}, all static.
Usage: python3 toolchain/gen-sdk.py [OUT.artifactbundle]   (default: next to this script)
Use a flavour with:

    swift build -c release --swift-sdks-path toolchain --swift-sdk aarch64-musl \
        --scratch-path .build-aarch64-musl

How the flags fit together (see toolchain/README.md for the pitfalls behind them):
* The Swift target triple is the embedded one that has a stdlib module
  (aarch64-none-none-elf, armv7-none-none-eabi); only x86_64 has an embedded *-linux-gnu one.
* `-Xfrontend -clang-target <linux triple>` makes the C importer and SwiftPM's C targets see
  Linux (__linux__, Linux struct layouts, the right libc headers).
* The link goes through clang's Linux driver because the last `--target` wins
  (`-Xclang-linker --target=<linux triple>`), and through lld (GNU ld rejects Swift's
  protected data symbols on aarch64).
* musl: explicit crt objects and libc.a from Debian's musl-dev replace glibc's.
"""

import json
import os
import shutil
import sys

BUNDLE_NAME = "embedded-linux.artifactbundle"
BUNDLE_VERSION = "0.1.0"

# name: (swift target triple, clang Linux triple for glibc, clang triple for musl,
#        Debian musl multiarch dir, extra C/ABI flags for Swift (-Xcc) and C alike)
ARCHES = {
    "x86_64": (
        "x86_64-unknown-linux-gnu",
        "x86_64-unknown-linux-gnu",
        "x86_64-unknown-linux-musl",
        "x86_64-linux-musl",
        [],
    ),
    "aarch64": (
        "aarch64-none-none-elf",
        "aarch64-unknown-linux-gnu",
        "aarch64-unknown-linux-musl",
        "aarch64-linux-musl",
        [],
    ),
    "armv7": (
        "armv7-none-none-eabi",
        "armv7-unknown-linux-gnueabihf",
        "armv7-unknown-linux-musleabihf",
        "arm-linux-musleabihf",
        # -mfloat-abi=hard is REQUIRED: without it Swift passes doubles in core registers
        # (soft-float ABI of armv7-none-none-eabi) while libc expects VFP registers.
        # -mthumb: Thumb-2 code is about 30% smaller.
        ["-mfloat-abi=hard", "-mfpu=vfpv3-d16", "-mthumb"],
    ),
}
LIBCS = ("gnu", "musl")

# -function-sections: one section per Swift function too, so --gc-sections drops what no one
# calls (public functions of the library modules that only the tests use, unused witnesses).
COMMON_SWIFT = ["-enable-experimental-feature", "Embedded", "-wmo", "-Osize", "-Xfrontend", "-function-sections"]
# No unwind tables: nothing unwinds through C in these binaries (Package.swift already drops them
# for the mbedTLS targets; this covers CPlatform and CAllocHook on the boards too). -Oz rather
# than -Os: 8 KB less on aarch64, nearly all in mbedTLS; ECDSA handshakes per second measured
# the same both ways (bench/tls_handshakes.py, 122 and 120/s in one session).
COMMON_C = ["-Oz", "-ffunction-sections", "-fdata-sections", "-fno-asynchronous-unwind-tables", "-fno-unwind-tables"]
# Drop unreferenced sections at link time (the C side emits one section per function/object).
# SwiftPM already passes this for release executables; the toolset makes debug builds match.
# --icf=all: lld folds functions with identical code (~5 KB; neither midge nor mbedTLS compares
# function addresses).
COMMON_LINK = ["-Xlinker", "--gc-sections", "-Xlinker", "--icf=all"]


def flavour(arch, libc):
    """Return (swift target triple, toolset dict) for one flavour."""
    swift_triple, gnu_triple, musl_triple, musl_dir, abi = ARCHES[arch]
    if libc == "gnu":
        clang_triple = gnu_triple
        inc = []
        # -lm: Dictionary/Set need ceil() on glibc.
        link = ["--target=" + gnu_triple, "-static", "-lm"]
    else:
        clang_triple = musl_triple
        d = "/usr/lib/" + musl_dir
        inc = ["-nostdlibinc", "-isystem", "/usr/include/" + musl_dir]
        # The link still uses the gnu triple (clang's Linux driver, finds libgcc in the gcc
        # cross dirs); startfiles and libc are replaced by musl's.
        link = [
            "--target=" + gnu_triple, "-static", "-nostartfiles", "-nodefaultlibs",
            "-L" + d, d + "/crt1.o", d + "/crti.o", d + "/libc.a", "-lgcc", d + "/crtn.o",
        ]

    swift = list(COMMON_SWIFT)
    swift += ["-Xfrontend", "-clang-target", "-Xfrontend", clang_triple]
    for f in inc + abi:
        swift += ["-Xcc", f]
    swift += ["-use-ld=lld"]
    for f in link:
        swift += ["-Xclang-linker", f]
    swift += COMMON_LINK

    c = ["--target=" + clang_triple] + inc + abi + COMMON_C

    toolset = {
        "schemaVersion": "1.0",
        "swiftCompiler": {"extraCLIOptions": swift},
        "cCompiler": {"extraCLIOptions": c},
    }
    return swift_triple, toolset


def dump(path, obj):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(obj, indent=2) + "\n")


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, BUNDLE_NAME)
    if len(argv) > 1:
        out = os.path.abspath(argv[1])
    if not out.endswith(".artifactbundle"):
        sys.exit("gen-sdk: output directory must end in .artifactbundle: " + out)
    # Regenerate from scratch so a removed flavour does not linger.
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)

    artifacts = {}
    for arch in ARCHES:
        for libc in LIBCS:
            name = arch + "-" + libc
            swift_triple, toolset = flavour(arch, libc)
            os.makedirs(os.path.join(out, name))
            dump(os.path.join(out, name, "toolset.json"), toolset)
            dump(os.path.join(out, name, "swift-sdk.json"), {
                "schemaVersion": "4.0",
                "targetTriples": {swift_triple: {"toolsetPaths": ["toolset.json"]}},
            })
            artifacts[name] = {
                "type": "swiftSDK",
                "version": BUNDLE_VERSION,
                "variants": [{"path": name}],
            }
    dump(os.path.join(out, "info.json"), {"schemaVersion": "1.0", "artifacts": artifacts})
    print("gen-sdk: wrote %d flavours to %s" % (len(artifacts), os.path.relpath(out)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

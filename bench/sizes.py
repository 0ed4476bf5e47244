"""Size figures: lines of code and the aarch64 section sizes (bench/README.md)."""

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SIZE_TOOL = "aarch64-linux-gnu-size"
NM_TOOL = "aarch64-linux-gnu-nm"

# What each line-count group covers (globs relative to the repository).
LOC_GROUPS = {
    "library": ["src/**/*.c", "src/**/*.h", "include/**/*.h"],
    "hyp": ["hyp/**/*.c", "hyp/**/*.h", "hyp/**/*.S", "hyp/**/*.ld"],
    "tests": ["tests/**/*.c", "tests/**/*.h", "tests/**/*.S", "tests/**/*.ld", "tests/**/*.py"],
    "examples": ["examples/**/*.c", "examples/**/*.h", "examples/**/*.S"],
}

C_LIKE = {".c", ".h", ".S", ".ld"}


def _code_lines_c(text):
    """Lines with something besides whitespace and /* */ or // comments."""
    count = 0
    in_block = False
    for line in text.splitlines():
        code = []
        i = 0
        while i < len(line):
            if in_block:
                end = line.find("*/", i)
                if end < 0:
                    i = len(line)
                else:
                    in_block = False
                    i = end + 2
            elif line.startswith("/*", i):
                in_block = True
                i += 2
            elif line.startswith("//", i):
                break
            else:
                code.append(line[i])
                i += 1
        if "".join(code).strip():
            count += 1
    return count


def _code_lines_hash(text):
    return sum(1 for line in text.splitlines() if line.strip() and not line.strip().startswith("#"))


def count_lines():
    """group -> {files, lines, code}: physical lines and lines of code."""
    result = {}
    for group, globs in LOC_GROUPS.items():
        files = sorted({p for g in globs for p in REPO.glob(g) if p.is_file()})
        lines = code = 0
        for path in files:
            text = path.read_text(errors="replace")
            lines += len(text.splitlines())
            code += _code_lines_c(text) if path.suffix in C_LIKE else _code_lines_hash(text)
        result[group] = {"files": len(files), "lines": lines, "code": code}
    return result


def _run(*cmd):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout


def berkeley_totals(*paths):
    """{text, data, bss} summed by `size -t` (Berkeley: text includes .rodata)."""
    out = _run(SIZE_TOOL, "-t", *map(str, paths))
    for line in out.splitlines():
        if "(TOTALS)" in line:
            text, data, bss = (int(x) for x in line.split()[:3])
            return {"text": text, "data": data, "bss": bss}
    raise RuntimeError(f"no (TOTALS) line from {SIZE_TOOL} -t")


def program_sections(elf):
    """Sections of a linked hyp + VMM program with the .incbin'd guest images
    taken out of .rodata (examples/linux/images.S puts them between
    _guest_kernel_image and _guest_initrd_image_end)."""
    sections = {}
    for line in _run(SIZE_TOOL, "-A", str(elf)).splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith(".") and parts[1].isdigit():
            sections[parts[0]] = int(parts[1])
    symbols = {}
    for line in _run(NM_TOOL, str(elf)).splitlines():
        m = re.match(r"([0-9a-f]+) \w (_guest_\w+)$", line)
        if m:
            symbols[m.group(2)] = int(m.group(1), 16)
    images = symbols["_guest_initrd_image_end"] - symbols["_guest_kernel_image"]
    return {
        "text": sections.get(".text", 0),
        "rodata": sections.get(".rodata", 0) + sections.get(".init_array", 0) - images,
        "data": sections.get(".data", 0),
        "bss": sections.get(".bss", 0),
        "images": images,
    }


def measure(build, program_elf):
    build = Path(build)
    hyp_objs = sorted((build / "hyp").glob("*.o"))
    return {
        "loc": count_lines(),
        "libvmm": berkeley_totals(build / "aarch64" / "libvmm.a"),
        "hyp_objs": berkeley_totals(*hyp_objs),
        "program": program_sections(program_elf),
    }

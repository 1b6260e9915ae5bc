"""The machine's name, recorded beside the figures of bench/ and experiments/."""

import os
import platform


def cpu_name():
    """The processor's model name and CPU count, to say which machine figures come from."""
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            name = next(line.split(":", 1)[1].strip() for line in cpuinfo
                        if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{name}, {os.cpu_count()} CPUs"

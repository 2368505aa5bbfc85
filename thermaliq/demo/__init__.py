"""Demo home: facilities, realistic readings with real faults, and the truth they were made from.

May import every library subpackage.
"""
from thermaliq.demo.build import DemoHome, make_demo_home

__all__ = ["DemoHome", "make_demo_home"]

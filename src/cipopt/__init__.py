"""cipopt: choose NHS savings schemes and transformation bids over several years, safely."""

__version__ = "0.1.0"

"""petro: learn NMR-quality porosity and permeability from image and conventional well logs."""

__version__ = "0.1.0"

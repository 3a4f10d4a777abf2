"""The device side: export to TFLite, calibration, runtimes that run a model as the ESP32 does,
the tensor arena, verification, the manifest and the sensitivity levels."""

"""Where and how a model runs: devices, dtypes, the OpenVINO and int8 backends."""

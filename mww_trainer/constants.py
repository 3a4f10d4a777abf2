"""The device's fixed facts (ESPHome micro_wake_word on an ESP32).

These are burned into the firmware's audio frontend and model runner; see the
ESPHome contract. Nothing here is configurable.
"""

SAMPLE_RATE_HZ = 16000
SAMPLE_WIDTH_BYTES = 2  # 16-bit PCM
MEL_BINS = 40
WINDOW_SIZE_MS = 30  # 480 samples
WINDOW_STEP_MS = 10  # 160 samples; the manifest's feature_step_size
WINDOW_SIZE_SAMPLES = SAMPLE_RATE_HZ * WINDOW_SIZE_MS // 1000
WINDOW_STEP_SAMPLES = SAMPLE_RATE_HZ * WINDOW_STEP_MS // 1000
LOWER_BAND_LIMIT_HZ = 125.0
UPPER_BAND_LIMIT_HZ = 7500.0

# pymicro-features returns the frontend's uint16 output divided by this.
FEATURE_SCALE = 25.6
# The device feeds int8 computed from the uint16 value with integer arithmetic.
INPUT_SCALE = 26.0 / 255.0
INPUT_ZERO_POINT = -128
INPUT_MAX_FEATURE = 26.0  # the float value that maps to int8 127
OUTPUT_SCALE = 1.0 / 256.0
OUTPUT_ZERO_POINT = 0

STREAM_STRIDE_FRAMES = 3  # feature rows per inference; input tensor [1, 3, 40]
INPUT_SHAPE = (1, STREAM_STRIDE_FRAMES, MEL_BINS)
OUTPUT_SHAPE = (1, 1)

# Slices ignored after a model load or a detection (~3 s at stride 3).
IGNORE_SLICES_AFTER_DETECTION = 100
MAX_RESOURCE_VARIABLES = 20
TFLITE_SCHEMA_VERSION = 3
MANIFEST_VERSION = 2

# The only operators ESPHome registers in its op resolver.
DEVICE_OPS = frozenset(
    {
        "CALL_ONCE",
        "VAR_HANDLE",
        "RESHAPE",
        "READ_VARIABLE",
        "STRIDED_SLICE",
        "CONCATENATION",
        "ASSIGN_VARIABLE",
        "CONV_2D",
        "MUL",
        "ADD",
        "MEAN",
        "FULLY_CONNECTED",
        "LOGISTIC",
        "QUANTIZE",
        "DEPTHWISE_CONV_2D",
        "AVERAGE_POOL_2D",
        "MAX_POOL_2D",
        "PAD",
        "PACK",
        "SPLIT_V",
    }
)

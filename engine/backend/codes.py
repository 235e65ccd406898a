"""Op codes shared by the op front ends and every backend.

A kernel family (binary, unary, reduce, activation epilogue) is one numba function
specialised per code, so the codes are compile-time constants that the CPU and the
CUDA backend and the front ends in engine.ops all read from here. The names are the
op names in the registry (engine.ops.registry).
"""

# ---- binary (elementwise, numpy broadcasting) ----
ADD, SUB, MUL, DIV, POW, MAXIMUM, MINIMUM, EQ, NE, LT, LE, GT, GE = range(13)
COMPARISONS = (EQ, NE, LT, LE, GT, GE)
BINARY_NAMES = {ADD: "add", SUB: "sub", MUL: "mul", DIV: "div", POW: "pow",
                MAXIMUM: "maximum", MINIMUM: "minimum", EQ: "eq", NE: "ne", LT: "lt",
                LE: "le", GT: "gt", GE: "ge"}

# ---- unary (elementwise) ----
(NEG, EXP, LOG, SQRT, RSQRT, TANH, RELU, GELU, GELU_TANH, SIGMOID, ABS, SIN, COS, SIGN,
 GELU_GRAD, GELU_TANH_GRAD, COPY, RECIP, SQUARE) = range(19)
UNARY_NAMES = {NEG: "neg", EXP: "exp", LOG: "log", SQRT: "sqrt", RSQRT: "rsqrt", TANH: "tanh",
               RELU: "relu", GELU: "gelu", GELU_TANH: "gelu_tanh", SIGMOID: "sigmoid",
               ABS: "abs", SIN: "sin", COS: "cos", SIGN: "sign", GELU_GRAD: "gelu_grad",
               GELU_TANH_GRAD: "gelu_tanh_grad", RECIP: "reciprocal", SQUARE: "square"}

# ---- reductions ----
SUM, MAX, MIN, ARGMAX, ARGMIN = range(5)
REDUCE_NAMES = {SUM: "sum", MAX: "max", MIN: "min", ARGMAX: "argmax", ARGMIN: "argmin"}

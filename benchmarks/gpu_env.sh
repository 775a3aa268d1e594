# Sourced by the device-machine scripts (JAX and PyTorch there, no TensorFlow): installs a keras
# wheel carried in .whl/ (see the device tool's README) and sets PYTHONPATH and KERAS_BACKEND=jax.
if compgen -G ".whl/*.whl" > /dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD" KERAS_BACKEND=${KERAS_BACKEND:-jax} PYTHONUNBUFFERED=1

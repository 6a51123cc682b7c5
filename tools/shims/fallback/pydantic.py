"""Stand-in for pydantic.BaseModel where pydantic is not installed (the GPU machine has no network to
install it): tools/bench_reference.py puts this folder last on sys.path, so a real pydantic always wins.
Keyword arguments become attributes and class-level defaults fill the rest; a field with neither is an
error. No validation or coercion: the values given here are already of the declared types."""


class BaseModel:
    def __init__(self, **values):
        fields = {}
        for klass in reversed(type(self).__mro__):
            fields.update(getattr(klass, "__annotations__", {}))
        missing = [name for name in fields if name not in values and not hasattr(type(self), name)]
        if missing:
            raise TypeError(f"{type(self).__name__}: missing {', '.join(missing)}")
        for name, value in values.items():
            setattr(self, name, value)

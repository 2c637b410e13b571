from .memory import MemoryPersistence
def make_persistence(config):
    return MemoryPersistence()

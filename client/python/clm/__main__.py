"""python3 -m clm: generates the protobuf module if needed and says where
it is (to do it ahead of time: a container image, a read-only home)."""

import google.protobuf

import clm
from clm import _gen

print("clm %s (protobuf runtime %s)" % (clm.__version__,
                                        google.protobuf.__version__))
print("proto:   %s" % _gen.find_proto()[1])
print("classes: %s" % clm.pb.__file__)

"""python3 -m clm: loads the protobuf module (generating it if needed) and
says where it is (to do it ahead of time: a container image, a read-only
home)."""

import google.protobuf

import clm
from clm import _gen

print("clm %s (protobuf runtime %s)" % (clm.__version__,
                                        google.protobuf.__version__))
if clm.pb.__name__ == _gen.SHIPPED_NAME:
    print("proto:   generated when the wheel was built")
else:
    print("proto:   %s" % _gen.find_proto()[1])
print("classes: %s" % clm.pb.__file__)

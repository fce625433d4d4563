// What a handler author needs comes with `import Workers`: the HTTP currency types and
// NIOCore's ByteBuffer, and nothing else of Egress's internals.
@_exported import HTTPTypes
@_exported import struct Logging.Logger
@_exported import struct NIOCore.ByteBuffer

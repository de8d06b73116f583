package core

import (
	"bytes"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/swrcache/swrcache/internal/wire"
)

// Codec turns the values of Fetch and FetchMany into bytes and back.
type Codec interface {
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// MsgpackCodec is the default Codec. Struct fields without a msgpack tag are
// named by their json tag, else by their Go name.
type MsgpackCodec struct{}

// Marshal encodes v as msgpack.
func (MsgpackCodec) Marshal(v any) ([]byte, error) {
	enc := msgpack.GetEncoder()
	defer msgpack.PutEncoder(enc)
	var buf byteBuffer
	enc.Reset(&buf)
	enc.SetCustomStructTag("json")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf, nil
}

// Unmarshal decodes msgpack data into v. It first checks that every length
// in data fits in data, so a planted value cannot make it allocate more than
// a few times len(data), nor nest deep enough to exhaust the stack.
func (MsgpackCodec) Unmarshal(data []byte, v any) error {
	if err := wire.Check(data); err != nil {
		return err
	}
	dec := msgpack.GetDecoder()
	defer msgpack.PutDecoder(dec)
	dec.Reset(bytes.NewReader(data))
	dec.SetCustomStructTag("json")
	return dec.Decode(v)
}

// byteBuffer is the smallest io.Writer that appends to a slice.
type byteBuffer []byte

func (b *byteBuffer) Write(p []byte) (int, error) {
	*b = append(*b, p...)
	return len(p), nil
}

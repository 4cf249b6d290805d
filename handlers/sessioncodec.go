package handlers

import (
	"bytes"
	"encoding/gob"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"
)

// sessionData is what scs.GobCodec encodes: the deadline and the values.
type sessionData struct {
	Deadline time.Time
	Values   map[string]any
}

// A gob stream describes its types before the first value, and a fresh
// gob.Decoder compiles a decoder for them: for a session that was most of
// the cost of reading it, on every request. Every session scs.GobCodec
// writes starts with the same type definitions (the same struct of a
// time.Time and a map[string]any; the values are strings and int64s, gob's
// own types), then holds one value message. So the type definitions are
// read once, by decoders kept in a pool, and such a decoder is handed only
// the value message of a session whose data starts with exactly those
// bytes. Anything else (other types in the map, data from another
// encoder, damaged data) is read by a fresh decoder, as before.

// gobPrefix is the type-definition part of the sessions scs.GobCodec
// writes, and the type id of their value message.
type gobPrefix struct {
	defs    []byte
	valueID int64
	sample  []byte // defs and one value message, to prime a decoder with
}

// readGobPrefix encodes a sample session the way scs.GobCodec does and
// splits it into its type definitions and its one value message.
func readGobPrefix() (gobPrefix, error) {
	sample, err := scs.GobCodec{}.Encode(time.Unix(1, 0), map[string]any{"s": "v", "n": int64(1)})
	if err != nil {
		return gobPrefix{}, err
	}
	rest := sample
	for len(rest) > 0 {
		id, size, ok := gobMessage(rest)
		if !ok {
			return gobPrefix{}, errors.New("session codec: unexpected gob stream")
		}
		if id > 0 {
			if size != len(rest) {
				return gobPrefix{}, errors.New("session codec: more than one value message")
			}
			return gobPrefix{defs: sample[:len(sample)-len(rest)], valueID: id, sample: sample}, nil
		}
		rest = rest[size:]
	}
	return gobPrefix{}, errors.New("session codec: no value message")
}

// gobMessage reads the header of the gob message at the start of b: its
// type id (negative for a type definition) and its whole size in bytes.
func gobMessage(b []byte) (id int64, size int, ok bool) {
	count, n, ok := gobUint(b)
	if !ok || count > uint64(len(b)-n) || count == 0 {
		return 0, 0, false
	}
	u, _, ok := gobUint(b[n : n+int(count)])
	if !ok {
		return 0, 0, false
	}
	// gob's signed ints: the low bit is the sign.
	if u&1 != 0 {
		id = ^int64(u >> 1)
	} else {
		id = int64(u >> 1)
	}
	return id, n + int(count), true
}

// gobUint reads one of gob's unsigned ints: a byte below 128, or the
// negated byte count followed by that many big-endian bytes.
func gobUint(b []byte) (v uint64, n int, ok bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	if b[0] < 0x80 {
		return uint64(b[0]), 1, true
	}
	size := int(-int8(b[0]))
	if size < 1 || size > 8 || len(b) < 1+size {
		return 0, 0, false
	}
	for _, c := range b[1 : 1+size] {
		v = v<<8 | uint64(c)
	}
	return v, 1 + size, true
}

// primedDecoder is a gob.Decoder that has read the type definitions of
// the codec's gobPrefix and reads value messages from r.
type primedDecoder struct {
	r   sliceReader
	dec *gob.Decoder
}

// sessionCodec is scs's gob codec with decode failures marked, so the
// loader can start a fresh session instead of failing the request (E-09),
// and with the fast path above for reading.
type sessionCodec struct {
	prefix gobPrefix
	primed bool // prefix was read; false sends every session to a fresh decoder
	// decoders holds primedDecoders; each is used by one Decode at a time.
	decoders sync.Pool
}

func newSessionCodec() *sessionCodec {
	p, err := readGobPrefix()
	return &sessionCodec{prefix: p, primed: err == nil}
}

// Encode is scs.GobCodec's.
func (*sessionCodec) Encode(deadline time.Time, values map[string]any) ([]byte, error) {
	return scs.GobCodec{}.Encode(deadline, values)
}

// Decode reads a session; data that does not decode (or makes gob panic)
// is errUndecodable.
func (c *sessionCodec) Decode(b []byte) (deadline time.Time, values map[string]any, err error) {
	defer func() {
		if recover() != nil {
			err = errUndecodable
		}
	}()
	v, err := c.decode(b)
	if err != nil {
		return time.Time{}, nil, errors.Join(errUndecodable, err)
	}
	return v.Deadline, v.Values, nil
}

func newPrimedDecoder(p gobPrefix) (*primedDecoder, error) {
	d := &primedDecoder{}
	d.dec = gob.NewDecoder(&d.r) // r is an io.ByteReader: gob reads no further than a message
	d.r.b = p.sample
	var v sessionData
	if err := d.dec.Decode(&v); err != nil || len(d.r.b) != 0 {
		return nil, errors.New("session codec: cannot prime a decoder")
	}
	return d, nil
}

// decode decodes data that scs.GobCodec encoded.
func (c *sessionCodec) decode(b []byte) (sessionData, error) {
	if v, ok := c.decodePrimed(b); ok {
		return v, nil
	}
	var v sessionData
	err := gob.NewDecoder(bytes.NewReader(b)).Decode(&v)
	return v, err
}

// decodePrimed decodes b with a primed decoder when b is the shared type
// definitions and one value message of the expected type; ok is false
// when it cannot, or when the decoder fails (the caller then decodes b
// afresh, so the answer is always the one a fresh decoder gives).
func (c *sessionCodec) decodePrimed(b []byte) (v sessionData, ok bool) {
	p := c.prefix
	if !c.primed || !bytes.HasPrefix(b, p.defs) {
		return v, false
	}
	rest := b[len(p.defs):]
	if id, size, ok := gobMessage(rest); !ok || id != p.valueID || size != len(rest) {
		return v, false
	}
	d, _ := c.decoders.Get().(*primedDecoder)
	if d == nil {
		var err error
		if d, err = newPrimedDecoder(p); err != nil {
			return v, false
		}
	}
	d.r.b = rest
	if err := d.dec.Decode(&v); err != nil || len(d.r.b) != 0 {
		// The decoder's state is unknown now: drop it.
		return sessionData{}, false
	}
	d.r.b = nil
	c.decoders.Put(d)
	return v, true
}

// sliceReader reads a byte slice it does not own, and can be pointed at
// another.
type sliceReader struct{ b []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

func (r *sliceReader) ReadByte() (byte, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c, nil
}

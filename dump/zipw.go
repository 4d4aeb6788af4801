package dump

import (
	"encoding/binary"
	"io"
	"time"
)

// storeZip writes a zip archive of stored (uncompressed) members whose CRC-32 and size are known
// before their data: each member is a local header with the sizes and CRC (no data descriptor), then
// its bytes; close writes the central directory. It is what archive/zip's CreateRaw + Close write,
// without the half-dozen allocations per member (a full dump of a small model writes ~141 small members
// per step) and with the Zip64 extra fields in the local headers too when a member needs them (APPNOTE
// 4.5.3; archive/zip leaves them out). Zip64 records are written only where a field overflows.
type storeZip struct {
	w     io.Writer
	off   uint64 // bytes written so far
	n     uint64 // members
	cd    []byte // central directory so far (reused across archives)
	hdr   []byte // local header scratch
	date  uint16 // MS-DOS date and time of every member
	clock uint16
}

// zipMax is the largest value a 32-bit (or, as zipMax16, 16-bit) zip field holds before Zip64; a
// variable so that tests can exercise the Zip64 records without writing 4 GiB.
var (
	zipMax   uint64 = 0xffffffff
	zipMax16 uint64 = 0xffff
)

const (
	zipLocalSig   = 0x04034b50
	zipCentralSig = 0x02014b50
	zipEndSig     = 0x06054b50
	zip64EndSig   = 0x06064b50
	zip64LocSig   = 0x07064b50
	zipVersion20  = 20
	zipVersion45  = 45             // Zip64
	zipMadeBy     = 3<<8 | 45      // Unix, spec 4.5
	zipFileMode   = 0o100644 << 16 // regular file, rw-r--r--, in the external attributes
	zipUTF8       = 0x800          // general purpose flag: the name is UTF-8
)

// reset starts a new archive on w with the modification time t.
func (z *storeZip) reset(w io.Writer, t time.Time) {
	z.w, z.off, z.n, z.cd = w, 0, 0, z.cd[:0]
	z.date, z.clock = msDosTime(t)
}

// begin writes the local header of a stored member of size bytes with the given CRC-32; the caller
// then writes exactly size bytes.
func (z *storeZip) begin(name string, size uint64, crc uint32) error {
	var flags uint16
	for i := 0; i < len(name); i++ {
		if name[i] >= 0x80 {
			flags = zipUTF8
			break
		}
	}
	var extra []uint64 // Zip64: original and compressed size
	sz := uint32(size)
	if size >= zipMax {
		extra, sz = []uint64{size, size}, 0xffffffff
	}
	b := binary.LittleEndian.AppendUint32(z.hdr[:0], zipLocalSig)
	b = z.appendFileFields(b, flags, crc, sz, name, extra)
	b = append(b, name...)
	b = appendZip64Extra(b, extra)
	z.hdr = b
	z.central(name, flags, size, crc)
	z.off += uint64(len(b)) + size
	z.n++
	_, err := z.w.Write(b)
	return err
}

// central appends the member's central directory record (at the offset of its local header, z.off).
func (z *storeZip) central(name string, flags uint16, size uint64, crc uint32) {
	var extra []uint64 // Zip64 fields, in the order APPNOTE 4.5.3 lists them
	sz, off := uint32(size), uint32(z.off)
	if size >= zipMax {
		extra, sz = append(extra, size, size), 0xffffffff
	}
	if z.off >= zipMax {
		extra, off = append(extra, z.off), 0xffffffff
	}
	c := binary.LittleEndian.AppendUint32(z.cd, zipCentralSig)
	c = binary.LittleEndian.AppendUint16(c, zipMadeBy)
	c = z.appendFileFields(c, flags, crc, sz, name, extra)
	c = binary.LittleEndian.AppendUint16(c, 0) // comment
	c = binary.LittleEndian.AppendUint16(c, 0) // disk
	c = binary.LittleEndian.AppendUint16(c, 0) // internal attributes
	c = binary.LittleEndian.AppendUint32(c, zipFileMode)
	c = binary.LittleEndian.AppendUint32(c, off)
	c = append(c, name...)
	z.cd = appendZip64Extra(c, extra)
}

// appendFileFields appends the fields that a local header and a central directory record share (APPNOTE
// 4.3.7, 4.3.12): the version needed (4.5 when there are Zip64 fields), flags, method (stored), time,
// date, CRC-32, compressed and uncompressed size (sz for both), name length and extra field length.
func (z *storeZip) appendFileFields(b []byte, flags uint16, crc, sz uint32, name string, extra []uint64) []byte {
	version, xlen := uint16(zipVersion20), 0
	if len(extra) > 0 {
		version, xlen = zipVersion45, 4+8*len(extra)
	}
	b = binary.LittleEndian.AppendUint16(b, version)
	b = binary.LittleEndian.AppendUint16(b, flags)
	b = binary.LittleEndian.AppendUint16(b, 0) // stored
	b = binary.LittleEndian.AppendUint16(b, z.clock)
	b = binary.LittleEndian.AppendUint16(b, z.date)
	b = binary.LittleEndian.AppendUint32(b, crc)
	b = binary.LittleEndian.AppendUint32(b, sz) // compressed
	b = binary.LittleEndian.AppendUint32(b, sz) // uncompressed
	b = binary.LittleEndian.AppendUint16(b, uint16(len(name)))
	return binary.LittleEndian.AppendUint16(b, uint16(xlen))
}

// appendZip64Extra appends the Zip64 extended information extra field holding vals (nothing when empty).
func appendZip64Extra(b []byte, vals []uint64) []byte {
	if len(vals) == 0 {
		return b
	}
	b = binary.LittleEndian.AppendUint16(b, 1)
	b = binary.LittleEndian.AppendUint16(b, uint16(8*len(vals)))
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	return b
}

// close writes the central directory and the end records.
func (z *storeZip) close() error {
	start, size := z.off, uint64(len(z.cd))
	b := z.cd
	if z.n >= zipMax16 || size >= zipMax || start >= zipMax {
		end64 := start + size
		b = binary.LittleEndian.AppendUint32(b, zip64EndSig)
		b = binary.LittleEndian.AppendUint64(b, 44) // size of the rest of this record
		b = binary.LittleEndian.AppendUint16(b, zipMadeBy)
		b = binary.LittleEndian.AppendUint16(b, zipVersion45)
		b = binary.LittleEndian.AppendUint32(b, 0) // this disk
		b = binary.LittleEndian.AppendUint32(b, 0) // disk of the central directory
		b = binary.LittleEndian.AppendUint64(b, z.n)
		b = binary.LittleEndian.AppendUint64(b, z.n)
		b = binary.LittleEndian.AppendUint64(b, size)
		b = binary.LittleEndian.AppendUint64(b, start)
		b = binary.LittleEndian.AppendUint32(b, zip64LocSig)
		b = binary.LittleEndian.AppendUint32(b, 0) // disk of the Zip64 end record
		b = binary.LittleEndian.AppendUint64(b, end64)
		b = binary.LittleEndian.AppendUint32(b, 1) // disks
	}
	b = binary.LittleEndian.AppendUint32(b, zipEndSig)
	b = binary.LittleEndian.AppendUint16(b, 0) // this disk
	b = binary.LittleEndian.AppendUint16(b, 0) // disk of the central directory
	n16, size32, start32 := uint16(z.n), uint32(size), uint32(start)
	if z.n >= zipMax16 {
		n16 = 0xffff
	}
	if size >= zipMax {
		size32 = 0xffffffff
	}
	if start >= zipMax {
		start32 = 0xffffffff
	}
	b = binary.LittleEndian.AppendUint16(b, n16)
	b = binary.LittleEndian.AppendUint16(b, n16)
	b = binary.LittleEndian.AppendUint32(b, size32)
	b = binary.LittleEndian.AppendUint32(b, start32)
	b = binary.LittleEndian.AppendUint16(b, 0) // comment
	z.cd = b[:0]
	_, err := z.w.Write(b)
	return err
}

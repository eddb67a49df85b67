package capture

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"testing"
)

// FuzzScanEvent holds the scanner to encoding/json: whatever line it reads
// (scan returns true), it reads as json.Unmarshal reads it into a
// wireEvent, and UnmarshalJSON's result is the same either way.
func FuzzScanEvent(f *testing.F) {
	for _, e := range exampleEvents() {
		f.Add(e.AppendJSON(nil))
	}
	r := newRand()
	for i := range 200 {
		e := randEvent(r, allKinds[i%len(allKinds)])
		f.Add(e.AppendJSON(nil))
	}
	for _, s := range []string{
		`{"kind":"open","conn":-0}`, `{"kind":"frame","len":-0,"rsv":7}`, `{"kind":"frame","rsv":256}`,
		`{"kind":"message","text":"\ud83d\ude00 \u00e9\n\"","op":"text"}`, `{"kind":"message","text":"\ud800"}`,
		`{"Kind":"open"}`, `{"kind":"open","conn":1.0}`, `{"kind":"open","conn":1e2}`, `{"kind":null}`,
		`{"kind":"response","wait_ms":1.5e-3,"send_ms":-0.25,"headers":[["a","b"],["c","d"]]}`,
		`{"kind":"h2frame","type":"SETTINGS","settings":[["MAX_FRAME_SIZE",16384]],"code":"CANCEL"}`,
		`{"kind":"message","op":"close","code":1000}`, `{"kind":"request","body_b64":"AAE=\n"}`,
		` {"kind" : "open" , "t" : "2025-03-14T19:51:02.5+01:00" } `, `{"kind":"open"} x`, `{"kind":"open","t":"2025-02-30T00:00:00Z"}`,
		`{"kind":"sse","seq":1,"event":"message","data":"abcd","len":11}`, `{"data":"AAE=","kind":"message"}`,
		`{"kind":"x","msg":"\xff"}`, `{"kind":"x","headers":[["a","b","c"]]}`, `{"kind":"x","headers":[]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast wireEvent
		if !fast.scan(b) {
			return
		}
		var slow wireEvent
		if err := json.Unmarshal(b, &slow); err != nil {
			t.Fatalf("scan read %q, encoding/json says %v", b, err)
		}
		// "data": the scanner decodes it as it reads (the kind says how),
		// encoding/json keeps it raw for decodeData.
		if fast.scannedData {
			want, err := decodeData(slow.Kind, slow.Data)
			if err != nil || !bytes.Equal(fast.scanData, want) {
				t.Fatalf("%q: data scanned %q, encoding/json and decodeData %q, %v", b, fast.scanData, want, err)
			}
			fast.scanData, fast.scannedData, slow.Data = nil, false, nil
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q:\nscan          %+v\nencoding/json %+v", b, fast, slow)
		}
		var viaScan, viaJSON Event
		errScan := viaScan.UnmarshalJSON(b)
		errJSON := viaJSON.unmarshalJSONSlow(b)
		if fmt.Sprint(errScan) != fmt.Sprint(errJSON) || !reflect.DeepEqual(viaScan, viaJSON) {
			t.Fatalf("%q:\nscan          %+v, %v\nencoding/json %+v, %v", b, viaScan, errScan, viaJSON, errJSON)
		}
	})
}

// unmarshalJSONSlow is UnmarshalJSON through encoding/json alone.
func (e *Event) unmarshalJSONSlow(b []byte) error {
	scanOff = true
	defer func() { scanOff = false }()
	return e.UnmarshalJSON(b)
}

// BenchmarkReader reads a capture of typical events back: WebSocket
// frames and messages (text and binary), HTTP exchanges. It reports
// events/s.
func BenchmarkReader(b *testing.B) {
	var buf bytes.Buffer
	evs := []*Event{frameEvent(), messageEvent(), frameEvent(), binaryEvent()}
	evs = append(evs, exampleEvents()...)
	for len(buf.Bytes()) < 4<<20 {
		for _, e := range evs {
			buf.Write(e.AppendJSON(nil))
		}
	}
	data := buf.Bytes()
	n := bytes.Count(data, []byte("\n"))
	for _, mode := range []string{"scan", "encoding-json"} {
		b.Run(mode, func(b *testing.B) {
			scanOff = mode != "scan"
			defer func() { scanOff = false }()
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				r := NewReader(bytes.NewReader(data))
				for {
					if _, err := r.Next(); err == io.EOF {
						break
					} else if err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

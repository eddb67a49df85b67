package contentview

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"mime/multipart"
	"strings"
	"testing"
)

func fieldsText(fs []Field) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.Name + " = " + f.Value + "\n")
	}
	return b.String()
}

func TestJSONPaths(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		max       int
		want, err string
	}{
		{"object", `{"items":[{"id":7,"name":"a b"},{"id":8,"tags":[]}],"total":2,"next":null,"ok":true,"meta":{}}`, 0,
			".items[0].id = 7\n.items[0].name = \"a b\"\n.items[1].id = 8\n.items[1].tags = []\n.total = 2\n.next = null\n.ok = true\n.meta = {}\n", ""},
		{"array at the top", `[1,[2,3],{"a":4}]`, 0, "[0] = 1\n[1][0] = 2\n[1][1] = 3\n[2].a = 4\n", ""},
		{"scalar", `"hi"`, 0, ". = \"hi\"\n", ""},
		{"odd keys", `{"a b":1,"":2,"x-y":{"1":3}}`, 0, "[\"a b\"] = 1\n[\"\"] = 2\n[\"x-y\"][\"1\"] = 3\n", ""},
		{"big numbers stay exact", `{"n":12345678901234567890}`, 0, ".n = 12345678901234567890\n", ""},
		{"bounded", `[1,2,3,4]`, 2, "[0] = 1\n[1] = 2\n… = more than 2 values: the rest not listed\n", ""},
		{"cut short", `{"a":[1,2`, 0, ".a[0] = 1\n.a[1] = 2\n", "JSON cut short"},
		{"not JSON", `{"a":1,}`, 0, ".a = 1\n", "not JSON"},
	} {
		got, err := JSONPaths([]byte(tc.doc), tc.max)
		if fieldsText(got) != tc.want || !strings.Contains(err, tc.err) || (tc.err == "") != (err == "") {
			t.Errorf("%s: got\n%s(err %q)\nwant\n%s(err %q)", tc.name, fieldsText(got), err, tc.want, tc.err)
		}
	}
}

func TestImageInfo(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	img.Set(1, 1, color.White)
	var p, g, j bytes.Buffer
	png.Encode(&p, img)
	gif.Encode(&g, img, nil)
	jpeg.Encode(&j, img, nil)
	webpVP8L := append([]byte("RIFF\x00\x00\x00\x00WEBPVP8L\x00\x00\x00\x00\x2f"), 0x3f, 0xc0, 0x0b, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) // 64×48
	bmp := append([]byte("BM"), make([]byte, 24)...)
	bmp[18], bmp[22] = 64, 0xd0 // 64 wide, -48 high (top-down)
	bmp[23], bmp[24], bmp[25] = 0xff, 0xff, 0xff
	for _, tc := range []struct {
		name string
		b    []byte
		want Image
	}{
		{"png", p.Bytes(), Image{"png", 64, 48}},
		{"png, first 64 bytes", p.Bytes()[:64], Image{"png", 64, 48}},
		{"gif", g.Bytes(), Image{"gif", 64, 48}},
		{"jpeg", j.Bytes(), Image{"jpeg", 64, 48}},
		{"webp lossless", webpVP8L, Image{"webp", 64, 48}},
		{"bmp", bmp, Image{"bmp", 64, 48}},
	} {
		got, ok := ImageInfo(tc.b)
		if !ok || got != tc.want {
			t.Errorf("%s: %+v %v, want %+v", tc.name, got, ok, tc.want)
		}
	}
	if _, ok := ImageInfo([]byte("not an image at all, just text")); ok {
		t.Error("text read as an image")
	}
}

func TestForm(t *testing.T) {
	got, err := Form([]byte("q=frame+tap&lang=en&empty=&a%20b=%E2%82%AC"))
	if want := "q = frame tap\nlang = en\nempty = \na b = €\n"; fieldsText(got) != want || err != "" {
		t.Errorf("got\n%s(err %q)", fieldsText(got), err)
	}
	got, err = Form([]byte("ok=1&bad=%zz"))
	if fieldsText(got) != "ok = 1\nbad = %zz\n" || !strings.Contains(err, "does not decode") {
		t.Errorf("bad pair: got\n%s(err %q)", fieldsText(got), err)
	}
}

func TestMultipart(t *testing.T) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	w.WriteField("title", "holiday")
	fw, _ := w.CreateFormFile("photo", "beach.png")
	fw.Write([]byte("\x89PNG...."))
	w.Close()
	ct := w.FormDataContentType()
	parts, err := Multipart(b.Bytes(), ct)
	if err != "" || len(parts) != 2 {
		t.Fatalf("parts %+v err %q", parts, err)
	}
	if p := parts[0]; p.Name != "title" || p.Filename != "" || string(p.Body) != "holiday" {
		t.Errorf("part 1: %+v", p)
	}
	if p := parts[1]; p.Name != "photo" || p.Filename != "beach.png" || p.ContentType != "application/octet-stream" || p.Size != 8 {
		t.Errorf("part 2: %+v", p)
	}
	// Cut short, as a body kept in part is.
	parts, err = Multipart(b.Bytes()[:b.Len()-20], ct)
	if len(parts) == 0 || !strings.Contains(err, "cut short") {
		t.Errorf("cut short: %d parts, err %q", len(parts), err)
	}
	if _, err := Multipart(b.Bytes(), "multipart/form-data"); !strings.Contains(err, "boundary") {
		t.Errorf("no boundary: err %q", err)
	}
}

// FuzzBodyViews: any bytes, read as each body type: no panic, bounds kept.
func FuzzBodyViews(f *testing.F) {
	f.Add([]byte(`{"a":[1,{"b":null}],"c":"d"}`))
	f.Add([]byte("a=1&b=%zz&c"))
	f.Add([]byte("--X\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--X--\r\n"))
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBPVP8X\x00\x00\x00\x00\x00\x00\x00\x00\x3f\x00\x00\x2f\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fs, _ := JSONPaths(b, 50)
		if len(fs) > 51 {
			t.Fatalf("%d fields, bound 50", len(fs))
		}
		for _, fl := range fs {
			if len(fl.Value) > fieldMax+len("…") {
				t.Fatalf("value of %d bytes", len(fl.Value))
			}
		}
		Form(b)
		parts, _ := Multipart(b, `multipart/form-data; boundary=X`)
		if len(parts) > maxParts {
			t.Fatalf("%d parts", len(parts))
		}
		ImageInfo(b)
	})
}

package pocketsphinx

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/entvoice/entvoice/internal/speech"
)

func TestUpsample2(t *testing.T) {
	got := upsample2([]int16{0, 100, -100, 32767})
	want := []int16{0, 50, 100, 0, -100, 16333, 32767, 32767}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("upsample2 = %v", got)
	}
}

func TestResolveModel(t *testing.T) {
	dir := t.TempDir()
	hmm := filepath.Join(dir, "xx")
	os.MkdirAll(hmm, 0o755)
	for _, f := range []string{"mdef", "feat.params"} {
		os.WriteFile(filepath.Join(hmm, f), []byte("x"), 0o644)
	}
	if _, err := (Model{Language: "xx", Dir: dir}).resolve(); !errors.Is(err, speech.ErrNoModel) {
		t.Fatalf("no dictionary: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "xx.dict"), []byte("hola O L A\nhola(2) OW L AA\n\nadios A D I O S\n"), 0o644)
	r, err := (Model{Language: "xx-YY", Dir: dir}).resolve()
	if err != nil || r.hmm != hmm || r.dict != filepath.Join(dir, "xx.dict") || r.lang != "xx_yy" {
		t.Fatalf("resolve = %+v, %v", r, err)
	}
	words, phones := map[string]bool{}, map[string]string{}
	if err := readDict(r.dict, words, phones); err != nil {
		t.Fatal(err)
	}
	if !words["hola"] || !words["adios"] || len(words) != 2 || phones["hola"] != "O L A" {
		t.Fatalf("readDict: %v %v", words, phones)
	}
	if err := checkWords([]string{"hola", "nada"}, words, "xx"); !errors.Is(err, speech.ErrUnknownWord) {
		t.Fatalf("checkWords: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "bad.dict"), []byte("lonely\n"), 0o644)
	if err := readDict(filepath.Join(dir, "bad.dict"), words, nil); err == nil {
		t.Fatal("word without phones accepted")
	}
}

package node

import (
	"os"
	"path/filepath"
)

// ReadFiles reads every dir/*ext into a name → content map, the form
// Config.DropIns and Config.Hooks take. An empty dir means none.
func ReadFiles(dir, ext string) (map[string][]byte, error) {
	if dir == "" {
		return nil, nil
	}
	matches, err := filepath.Glob(filepath.Join(dir, "*"+ext))
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	for _, m := range matches {
		data, err := os.ReadFile(m)
		if err != nil {
			return nil, err
		}
		files[filepath.Base(m)] = data
	}
	return files, nil
}

package model

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

// mlCase is one request and MLflow 3.11's verdict on it for a model whose
// signature is two required double columns a and b (tinyModel). The
// expected codes and texts follow MLflow's scoring server source
// (mlflow/pyfunc/scoring_server, utils/proto_json_utils.py, models/utils.py).
type mlCase struct {
	name string
	body string
	want [][]float64 // accepted: these rows
	code string      // refused: this error_code
	msg  string      // and a message containing this
	full string      // or exactly this message
}

const (
	bad     = MLflowBadRequest
	invalid = MLflowInvalidParameterValue
	tinySig = `['a': double (required), 'b': double (required)]`
)

// schemaMsg is MLflow's message for a schema error on data printed as d.
func schemaMsg(d, e string) string {
	return "Failed to predict data '" + d + "'. \nError: Failed to enforce schema of data '" + d +
		"' with schema '" + tinySig + "'. Error: " + e
}

func checkMLflow(t *testing.T, tc mlCase, rows [][]float64, err error) {
	t.Helper()
	if tc.want != nil {
		if err != nil {
			t.Fatalf("refused %s: %v", tc.body, err)
		}
		if !slices.EqualFunc(rows, tc.want, slices.Equal[[]float64]) {
			t.Fatalf("rows %v, want %v", rows, tc.want)
		}
		return
	}
	var me *MLflowError
	if !errors.As(err, &me) {
		t.Fatalf("accepted %s (rows %v) or not an MLflowError: %v", tc.body, rows, err)
	}
	if rows != nil {
		t.Fatalf("rows %v with an error", rows)
	}
	if me.Code != tc.code {
		t.Fatalf("code %s, want %s (%s)", me.Code, tc.code, me.Message)
	}
	if !errors.Is(err, ErrBadInput) || errors.Is(err, ErrSchema) != (tc.code == invalid) {
		t.Fatalf("wrapping: ErrBadInput %v, ErrSchema %v", errors.Is(err, ErrBadInput), errors.Is(err, ErrSchema))
	}
	if tc.full != "" && me.Message != tc.full {
		t.Fatalf("message\n%q\nwant\n%q", me.Message, tc.full)
	}
	if !strings.Contains(me.Message, tc.msg) {
		t.Fatalf("message %q does not contain %q", me.Message, tc.msg)
	}
}

func TestParseMLflowJSON(t *testing.T) {
	m := tinyModel()
	for _, tc := range []mlCase{
		// dataframe_split
		{name: "split", body: `{"dataframe_split":{"columns":["a","b"],"data":[[1,2],[3,4]]}}`, want: rows12},
		{name: "split reordered columns", body: `{"dataframe_split":{"columns":["b","a"],"data":[[2,1],[4,3]]}}`, want: rows12},
		{name: "split extra column ignored", body: `{"dataframe_split":{"index":[0,1],"columns":["id","a","b"],"data":[["x",1,2],[null,3,4]]}}`, want: rows12},
		{name: "split with params", body: `{"dataframe_split":{"columns":["a","b"],"data":[[1,2],[3,4]]},"params":{"k":1}}`, want: rows12},
		{name: "split floats and exponents", body: `{"dataframe_split":{"columns":["a","b"],"data":[[1.5,-2e3]]}}`, want: [][]float64{{1.5, -2000}}},
		{name: "split numbers as strings", body: `{"dataframe_split":{"columns":["a","b"],"data":[["1"," 2.5 "],["1_000","-3e1"]]}}`, want: [][]float64{{1, 2.5}, {1000, -30}}},
		{name: "split booleans", body: `{"dataframe_split":{"columns":["a","b"],"data":[[true,false]]}}`, want: [][]float64{{1, 0}}},
		{name: "split missing column", body: `{"dataframe_split":{"columns":["a"],"data":[[1]]}}`, code: invalid,
			full: schemaMsg("     a\n0  1.0", "Model is missing inputs ['b'].")},
		{name: "split unknown column", body: `{"dataframe_split":{"columns":["a","c"],"data":[[1,2]]}}`, code: invalid,
			msg: "Error: Model is missing inputs ['b']. Note that there were extra inputs: ['c']"},
		{name: "split without columns", body: `{"dataframe_split":{"data":[[1,2],[3,4]]}}`, code: invalid,
			msg: "Model is missing inputs ['a', 'b']. Note that there were extra inputs: [0, 1]"},
		{name: "split index labels the rows", body: `{"dataframe_split":{"index":["x","y"],"columns":["a"],"data":[[1],[2]]}}`, code: invalid,
			full: schemaMsg("     a\nx  1.0\ny  2.0", "Model is missing inputs ['b'].")},
		{name: "split index of another length", body: `{"dataframe_split":{"index":[0],"columns":["a","b"],"data":[[1,2],[3,4]]}}`, code: bad,
			msg: "Error: 'Length of values (2) does not match length of index (1)'"},
		{name: "split duplicate column", body: `{"dataframe_split":{"columns":["a","b","a"],"data":[[1,2,3]]}}`, code: invalid, msg: "'DataFrame' object has no attribute 'dtype'"},
		{name: "split string value", body: `{"dataframe_split":{"columns":["a","b"],"data":[[1,"x"]]}}`, code: bad,
			full: `Invalid input. Data is not compatible with model signature. Failed to convert column b to type 'float64'. Error: 'ValueError("could not convert string to float: 'x'")'`},
		{name: "split hex string", body: `{"dataframe_split":{"columns":["a","b"],"data":[[1,"0x10"]]}}`, code: bad, msg: `could not convert string to float: '0x10'`},
		{name: "split list value", body: `{"dataframe_split":{"columns":["a","b"],"data":[[1,[2]]]}}`, code: bad, msg: `Error: 'ValueError('setting an array element with a sequence.')'`},
		{name: "split object value", body: `{"dataframe_split":{"columns":["a","b"],"data":[[1,{}]]}}`, code: bad, msg: `TypeError("float() argument must be a string or a real number, not 'dict'")`},
		{name: "split null value", body: `{"dataframe_split":{"columns":["a","b"],"data":[[1,null]]}}`, code: bad, full: mlflowEvalError},
		{name: "split nan string", body: `{"dataframe_split":{"columns":["a","b"],"data":[[1,"NaN"]]}}`, code: bad, full: mlflowEvalError},
		{name: "split huge number", body: `{"dataframe_split":{"columns":["a","b"],"data":[[1e999,1]]}}`, code: bad, full: mlflowEvalError},
		{name: "split empty data", body: `{"dataframe_split":{"columns":["a","b"],"data":[]}}`, code: bad, full: mlflowEvalError},
		{name: "split short row", body: `{"dataframe_split":{"columns":["a","b"],"data":[[1]]}}`, code: bad,
			full: `Invalid input. Provided dataframe_split field is not a valid dataframe representation in 'split' format. Error: '2 columns passed, passed data had 1 columns'`},
		{name: "split ragged rows are padded", body: `{"dataframe_split":{"columns":["a","b"],"data":[[1,2],[3]]}}`, code: bad, full: mlflowEvalError},
		{name: "split no data", body: `{"dataframe_split":{"columns":["a","b"]}}`, code: bad,
			full: `Invalid input. Dataframe split format must have 'data' field and optionally 'columns' and 'index' fields. Got {'columns'}.'`},
		{name: "split a list", body: `{"dataframe_split":[1,2]}`, code: bad, full: `Invalid input. Dataframe split format must be a dictionary. Got list.`},
		{name: "split a number", body: `{"dataframe_split":7}`, code: bad, full: `Invalid input. Dataframe split format must be a dictionary. Got type <class 'int'>.`},
		// dataframe_records
		{name: "records", body: `{"dataframe_records":[{"a":1,"b":2},{"b":4,"a":3}]}`, want: rows12},
		{name: "records extra key ignored", body: `{"dataframe_records":[{"a":1,"b":2,"name":"x"},{"a":3,"b":4,"name":null}]}`, want: rows12},
		{name: "records numbers as strings", body: `{"dataframe_records":[{"a":"1","b":"2"},{"a":"3","b":4}]}`, want: rows12},
		{name: "records missing key", body: `{"dataframe_records":[{"a":1}]}`, code: invalid, msg: "Model is missing inputs ['b']."},
		{name: "records key missing in one row", body: `{"dataframe_records":[{"a":1,"b":2},{"a":3}]}`, code: bad, full: mlflowEvalError},
		{name: "records keep the request's column order", body: `{"dataframe_records":[{"z":"q","b":2}]}`, code: invalid,
			full: schemaMsg("   z    b\n0  q  2.0", "Model is missing inputs ['a']. Note that there were extra inputs: ['z']")},
		{name: "records as lists", body: `{"dataframe_records":[[1,2]]}`, code: invalid,
			full: schemaMsg("   0  1\n0  1  2", "Model is missing inputs ['a', 'b']. Note that there were extra inputs: [0, 1]")},
		{name: "records as scalars", body: `{"dataframe_records":[1]}`, code: invalid, msg: "Note that there were extra inputs: [0]"},
		{name: "records empty", body: `{"dataframe_records":[]}`, code: invalid, msg: "Model is missing inputs ['a', 'b']."},
		{name: "records mixed", body: `{"dataframe_records":[{"a":1,"b":2},[1,2]]}`, code: bad,
			full: "Invalid input. Provided dataframe_records field is not a valid dataframe representation in 'records' format. Error: ''list' object has no attribute 'keys''"},
		{name: "records lists then a number", body: `{"dataframe_records":[[1,2],5]}`, code: bad, msg: "Error: 'object of type 'int' has no len()'"},
		{name: "records number then a list", body: `{"dataframe_records":[5,[1,2]]}`, code: invalid, msg: "Note that there were extra inputs: [0]"},
		{name: "records not a list", body: `{"dataframe_records":{"a":1,"b":2}}`, code: bad, full: `Invalid input. Dataframe records format must be a list of records. Got dictionary.`},
		{name: "records string value", body: `{"dataframe_records":[{"a":"one","b":2}]}`, code: bad, msg: `Failed to convert column a to type 'float64'`},
		// instances
		{name: "instances objects", body: `{"instances":[{"a":1,"b":2},{"a":3,"b":4}]}`, want: rows12},
		{name: "instances numbers as strings", body: `{"instances":[{"a":"1","b":"2"},{"a":3,"b":"4.0"}]}`, want: rows12},
		{name: "instances extra key", body: `{"instances":[{"a":1,"b":2,"c":"x"},{"a":3,"b":4,"c":"y"}]}`, want: rows12},
		{name: "instances lists of lists", body: `{"instances":[[1,2],[3,4]]}`, code: invalid,
			full: schemaMsg("[[1. 2.]\n [3. 4.]]", "Model is missing inputs ['a', 'b']. Note that there were extra inputs: [0, 1]")},
		{name: "instances data printed as a dict of arrays", body: `{"instances":[{"a":1},{"a":3}]}`, code: invalid,
			full: schemaMsg("{'a': array([1., 3.])}", "Model is missing inputs ['b'].")},
		{name: "inputs data printed as a dict", body: `{"inputs":{"a":1,"c":"x"}}`, code: invalid,
			full: schemaMsg("{'a': np.float64(1.0), 'c': array('x', dtype='<U1')}", "Model is missing inputs ['b']. Note that there were extra inputs: ['c']")},
		{name: "inputs records printed as a list", body: `{"inputs":[{"a":1,"c":[1,2]}]}`, code: invalid,
			full: schemaMsg("[{'a': np.float64(1.0), 'c': array([1, 2])}]", "Model is missing inputs ['b']. Note that there were extra inputs: ['c']")},
		{name: "instances one-element tensors", body: `{"instances":[{"a":[1],"b":[2]},{"a":[3],"b":[4]}]}`, code: invalid,
			msg: "Incompatible input types for column a. Can not safely convert object to float64."},
		{name: "instances missing key", body: `{"instances":[{"a":1},{"a":3}]}`, code: invalid, msg: "Model is missing inputs ['b']."},
		{name: "instances key missing in one row", body: `{"instances":[{"a":1,"b":2},{"a":3}]}`, code: bad,
			full: "Invalid input. The length of values for each input/column name are not the same"},
		{name: "instances string value", body: `{"instances":[{"a":"x","b":2}]}`, code: bad, full: "Invalid input. could not convert string to float: 'x'"},
		{name: "instances ragged lists", body: `{"instances":[[1,2],[3]]}`, code: bad,
			full: "Invalid input. setting an array element with a sequence. The requested array has an inhomogeneous shape after 1 dimensions. The detected shape was (2,) + inhomogeneous part."},
		{name: "instances object then list", body: `{"instances":[{"a":1,"b":2},[3,4]]}`, code: bad, msg: `AttributeError("'list' object has no attribute 'items'")`},
		{name: "instances scalars", body: `{"instances":[1,2]}`, code: invalid, msg: "Note that there were extra inputs: [0]"},
		{name: "instances three dimensions", body: `{"instances":[[[1,2]]]}`, code: invalid, msg: "Error: Must pass 2-d input. shape=(1, 1, 2)"},
		{name: "instances empty", body: `{"instances":[]}`, code: invalid, msg: "Model is missing inputs ['a', 'b']."},
		{name: "instances null", body: `{"instances":null}`, code: invalid, msg: "Model is missing inputs ['a', 'b']. Note that there were extra inputs: [0]"},
		{name: "instances unconvertible scalar", body: `{"instances":"x"}`, code: bad,
			full: "Invalid input. Failed to convert data `x` to type `'a': double (required)` defined in the model signature."},
		// inputs
		{name: "inputs columnar", body: `{"inputs":{"a":[1,3],"b":[2,4]}}`, want: rows12},
		{name: "inputs columnar strings", body: `{"inputs":{"a":["1","3"],"b":[2,"4"]}}`, want: rows12},
		{name: "inputs extra column ignored", body: `{"inputs":{"a":[1,3],"b":[2,4],"c":"x"}}`, want: rows12},
		{name: "inputs scalars are one row", body: `{"inputs":{"a":1,"b":"2"}}`, want: [][]float64{{1, 2}}},
		{name: "inputs scalar broadcast", body: `{"inputs":{"a":1,"b":[2,4]}}`, want: [][]float64{{1, 2}, {1, 4}}},
		{name: "inputs records", body: `{"inputs":[{"a":1,"b":2},{"a":3,"b":4}]}`, want: rows12},
		{name: "inputs rows", body: `{"inputs":[[1,2],[3,4]]}`, code: invalid, msg: "Note that there were extra inputs: [0, 1]"},
		{name: "inputs ragged columns", body: `{"inputs":{"a":[1,3],"b":[2]}}`, code: invalid,
			msg: "There was an error casting the input data to a DataFrame: All arrays must be of the same length"},
		{name: "inputs missing column", body: `{"inputs":{"a":[1]}}`, code: invalid, msg: "Model is missing inputs ['b']."},
		{name: "inputs column of lists", body: `{"inputs":{"a":[[1],[3]],"b":[2,4]}}`, code: invalid, msg: "Incompatible input types for column a"},
		{name: "inputs scalar", body: `{"inputs":5}`, code: invalid, msg: "Note that there were extra inputs: [0]"},
		{name: "inputs bad value", body: `{"inputs":{"a":[1],"b":[{}]}}`, code: bad, full: "Invalid input. float() argument must be a string or a real number, not 'dict'"},
		{name: "inputs null", body: `{"inputs":{"a":[1],"b":[null]}}`, code: bad, full: mlflowEvalError},
		// unified LLM input: the whole object is the data
		{name: "llm input", body: `{"input":"hi","params":{"t":1}}`, code: invalid,
			full: schemaMsg("{'input': 'hi', 'params': {'t': 1}}", "Model is missing inputs ['a', 'b']. Note that there were extra inputs: ['input', 'params']")},
		// the envelope
		{name: "no format key", body: `{"data":[[1,2]]}`, code: bad,
			full: mlflowRequiredFormat + ". Received dictionary with input fields: []. " + MLflowProtocolChangeInfo},
		{name: "two format keys", body: `{"params":{},"inputs":[[1,2]],"instances":[[1,2]]}`, code: bad, msg: "Received dictionary with input fields: ['inputs', 'instances']. IMPORTANT"},
		{name: "array body", body: `[[1,2]]`, code: bad, full: "Invalid input. " + mlflowRequiredFormat + ". Received a list."},
		{name: "null body", body: `null`, code: bad, full: "Invalid input. " + mlflowRequiredFormat + ". Received unexpected input type '<class 'NoneType'>."},
		{name: "not json", body: `dataframe_split`, code: bad,
			full: "Invalid input. Ensure that input is a valid JSON formatted string. Error: 'JSONDecodeError('Expecting value: line 1 column 1 (char 0)')'\nInput: \nb'dataframe_split'\n"},
		{name: "empty body", body: ``, code: bad, msg: "Error: 'JSONDecodeError('Expecting value: line 1 column 1 (char 0)')'\nInput: \nb''\n"},
		{name: "truncated", body: "{\"instances\":\n[[1,2]", code: bad, msg: "line 2 column 7 (char 20)"},
		{name: "trailing garbage", body: `{"instances":[[1,2]]}  x`, code: bad, msg: "JSONDecodeError('Extra data: line 1 column 24 (char 23)')"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := ParseMLflowJSON(m, []byte(tc.body))
			checkMLflow(t, tc, rows, err)
		})
	}
}

func TestParseMLflowSingleColumn(t *testing.T) {
	m := tinyModel()
	m.Features, m.Means, m.Stds, m.Weights = []string{"a"}, []float64{0}, []float64{1}, []float64{1}
	for _, tc := range []mlCase{
		// a list of values is the one column
		{name: "instances values", body: `{"instances":[1,"2"]}`, want: [][]float64{{1}, {2}}},
		{name: "inputs values", body: `{"inputs":[1,2]}`, want: [][]float64{{1}, {2}}},
		{name: "instances lists", body: `{"instances":[[1],[2]]}`, code: invalid, msg: "Incompatible input types for column a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := ParseMLflowJSON(m, []byte(tc.body))
			checkMLflow(t, tc, rows, err)
		})
	}
}

func TestParseCSV(t *testing.T) {
	m := tinyModel()
	csvErr := "Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid CSV-formatted Pandas DataFrame produced using the `pandas.DataFrame.to_csv()` method. Error: '"
	for _, tc := range []mlCase{
		{name: "csv", body: "a,b\n1,2\n3,4\n", want: rows12},
		{name: "reordered, extra column, spaces in values, CRLF", body: "id,b,a\r\nx, 2 ,1\r\ny,4,3\r\n", want: rows12},
		{name: "no trailing newline", body: "a,b\n1,2\n3,4", want: rows12},
		{name: "quoted", body: "\"a\",\"b\"\n\"1\",\"2\"\n3,4\n", want: rows12},
		{name: "blank lines skipped", body: "a,b\n\n1,2\n\n3,4\n", want: rows12},
		{name: "spaces in a header are kept", body: "id, b ,a\nx,2,1\n", code: invalid, msg: "Model is missing inputs ['b']. Note that there were extra inputs: ['id', ' b ']"},
		{name: "empty", body: "", code: bad, full: csvErr + "No columns to parse from file'"},
		{name: "header only", body: "a,b\n", code: bad, full: mlflowEvalError},
		{name: "missing column", body: "a\n1\n", code: invalid, full: schemaMsg("     a\n0  1.0", "Model is missing inputs ['b'].")},
		{name: "duplicate column renamed", body: "a,b,a\n1,2,3\n", want: [][]float64{{1, 2}}},
		{name: "non-numeric", body: "a,b\n1,x\n", code: bad, full: csvErr + "could not convert string to float: 'x''"},
		{name: "NaN", body: "a,b\n1,NaN\n", code: bad, full: mlflowEvalError},
		{name: "Inf", body: "a,b\n1,inf\n", code: bad, full: mlflowEvalError},
		{name: "empty cell", body: "a,b\n1,\n", code: bad, full: mlflowEvalError},
		{name: "short row padded", body: "a,b\n1\n", code: bad, full: mlflowEvalError},
		{name: "unclosed quote", body: "a,b\n1,\"2\n", code: bad, full: csvErr + "Error tokenizing data. C error: EOF inside string starting at row 1'"},
		{name: "quote inside a field", body: "a,b\n1,2\"\"\n", code: bad, full: csvErr + "could not convert string to float: '2\"\"''"},
		{name: "long row after a blank line", body: "a,b\n1,2\n\n3,4,5\n", code: bad, msg: "C error: Expected 2 fields in line 4, saw 3"},
		{name: "long row", body: "a,b\n1,2,3\n", code: bad, msg: "Error tokenizing data. C error: Expected 2 fields in line 2, saw 3"},
		{name: "json sent as csv", body: `{"instances":[[1,2]]}`, code: invalid, msg: "Model is missing inputs ['a', 'b']."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := ParseCSV(m, []byte(tc.body))
			checkMLflow(t, tc, rows, err)
		})
	}
}

func TestPyFloatString(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"1", 1, true}, {" -2.5\n", -2.5, true}, {"1_000", 1000, true}, {"1e3", 1000, true}, {"+.5", 0.5, true},
		{"", 0, false}, {"1__0", 0, false}, {"_1", 0, false}, {"1_", 0, false}, {"0x10", 0, false},
		{"--1", 0, false}, {"1,5", 0, false}, {"abc", 0, false}, {"Infinity", 0, true}, {"-inf", 0, true},
	} {
		got, ok := pyFloatString(tc.in)
		if ok != tc.ok || ok && tc.want != 0 && got != tc.want {
			t.Errorf("pyFloatString(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestFrameRepr pins the pandas-style rendering of the data in schema-error
// messages (pandas' DataFrameFormatter: leading spaces, common decimals,
// columns cut to 80 characters, rows cut over 60); every want is pandas
// 1.5.3's output for the same frame.
func TestFrameRepr(t *testing.T) {
	num := func(s ...string) []any {
		out := make([]any, len(s))
		for i, v := range s {
			if v == "null" {
				continue
			}
			out[i] = json.Number(v)
		}
		return out
	}
	floats := func(name string, vs ...float64) *column { return &column{name: name, named: true, vals: vs} }
	long := make([]float64, 61)
	for i := range long {
		long[i] = float64(i)
	}
	demo, _, _ := Example(Default(), FormatDataframeSplit)
	_, demoErr := ParseMLflowJSON(Default(), []byte(strings.Replace(string(demo), `"age"`, `"agee"`, 1)))
	for _, tc := range []struct {
		name string
		f    *frame
		want string
	}{
		{"common decimals", &frame{cols: []*column{floats("a", 37.07, 28.5)}, n: 2}, "       a\n0  37.07\n1  28.50"},
		{"negative and NaN", &frame{cols: []*column{floats("a", -1.5, math.NaN())}, n: 2}, "     a\n0 -1.5\n1  NaN"},
		{"int and object columns", &frame{cols: []*column{{name: "i", named: true, cells: num("1", "-2")}, {name: "s", named: true, cells: []any{"x", nil}}}, n: 2},
			"   i     s\n0  1     x\n1 -2  None"},
		{"positional columns", &frame{cols: []*column{{pos: 0, cells: num("1.5", "null")}, {pos: 1, cells: num("2", "3")}}, n: 2}, "     0  1\n0  1.5  2\n1  NaN  3"},
		{"cut over 60 rows", &frame{cols: []*column{floats("v", long...)}, n: 61},
			"       v\n0    0.0\n1    1.0\n2    2.0\n3    3.0\n4    4.0\n..   ...\n56  56.0\n57  57.0\n58  58.0\n59  59.0\n60  60.0\n\n[61 rows x 1 columns]"},
		{"empty", &frame{cols: []*column{floats("a"), {pos: 1}}}, "Empty DataFrame\nColumns: [a, 1]\nIndex: []"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.f.repr(); got != tc.want {
				t.Fatalf("repr\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
	t.Run("cut to 80 columns", func(t *testing.T) {
		// pandas 1.5.3's own output for this frame
		want := "    agee  monthly_income  ...  distance_from_home  num_companies_worked\n" +
			"0  37.07         5322.78  ...                9.71                  2.60\n" +
			"1  28.50         2784.37  ...               18.16                  4.37\n\n" +
			"[2 rows x 7 columns]"
		if demoErr == nil || !strings.HasPrefix(demoErr.Error(), "Failed to predict data '"+want+"'. \nError: Failed to enforce schema of data '"+want+"' with schema") {
			t.Fatalf("message %q", demoErr)
		}
	})
}

// TestPyJSONProblem checks the JSON error texts against what Python 3's
// json.loads says for the same documents.
func TestPyJSONProblem(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{``, "Expecting value: line 1 column 1 (char 0)"},
		{`x`, "Expecting value: line 1 column 1 (char 0)"},
		{`{`, "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"},
		{`{1:2}`, "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"},
		{`{"a"`, "Expecting ':' delimiter: line 1 column 5 (char 4)"},
		{`{"a" 1}`, "Expecting ':' delimiter: line 1 column 6 (char 5)"},
		{`{"a":}`, "Expecting value: line 1 column 6 (char 5)"},
		{`{"a":`, "Expecting value: line 1 column 6 (char 5)"},
		{`{"a":1 "b":2}`, "Expecting ',' delimiter: line 1 column 8 (char 7)"},
		{`{"a":1,`, "Expecting property name enclosed in double quotes: line 1 column 8 (char 7)"},
		{`{"a":1,}`, "Expecting property name enclosed in double quotes: line 1 column 8 (char 7)"},
		{`[1,2`, "Expecting ',' delimiter: line 1 column 5 (char 4)"},
		{`[1 2]`, "Expecting ',' delimiter: line 1 column 4 (char 3)"},
		{`[1,]`, "Expecting value: line 1 column 4 (char 3)"},
		{`[1,`, "Expecting value: line 1 column 4 (char 3)"},
		{`[-`, "Expecting value: line 1 column 2 (char 1)"},
		{`{"a`, "Unterminated string starting at: line 1 column 2 (char 1)"},
		{"[\"a\nb\"]", "Invalid control character at: line 1 column 4 (char 3)"},
		{"{\"instances\":\n[[1,2]", "Expecting ',' delimiter: line 2 column 7 (char 20)"},
		{`{} x`, "Extra data: line 1 column 4 (char 3)"},
		{`"é`, "Unterminated string starting at: line 1 column 1 (char 0)"},
		{`["é" x]`, "Expecting ',' delimiter: line 1 column 6 (char 5)"},
	} {
		_, err := ParseMLflowJSON(tinyModel(), []byte(tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v\nwant %s", tc.body, err, tc.want)
		}
	}
}

// TestLargeBodyError: over orderedDecodeLimit the message keeps sorted key
// order (no second decode), with the same code and reason.
func TestLargeBodyError(t *testing.T) {
	body := `{"dataframe_records":[` + strings.TrimSuffix(strings.Repeat(`{"z":"q","b":2},`, 5000), ",") + `]}`
	if len(body) <= orderedDecodeLimit {
		t.Fatalf("body of %d bytes is not over the limit", len(body))
	}
	_, err := ParseMLflowJSON(tinyModel(), []byte(body))
	checkMLflow(t, mlCase{body: "large", code: invalid, msg: "Model is missing inputs ['a']. Note that there were extra inputs: ['z']"}, nil, err)
	if !strings.HasPrefix(err.Error(), "Failed to predict data '        b  z\n0     2.0  q") {
		t.Fatalf("message %.80q", err)
	}
}

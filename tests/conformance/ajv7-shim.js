// A JSON-schema validator with the interface the GS1 resolver suite expects of Ajv
// (new window.ajv7({strict:false}).compile(schema) -> validate(data), validate.errors).
// Written for scanapp's offline run of the suite; see gs1_suite.py.
(function () {
  function typeOk(t, v) {
    if (Array.isArray(t)) return t.some(function (x) { return typeOk(x, v); });
    if (t === 'array') return Array.isArray(v);
    if (t === 'object') return v !== null && typeof v === 'object' && !Array.isArray(v);
    if (t === 'integer') return Number.isInteger(v);
    if (t === 'null') return v === null;
    return typeof v === t;
  }
  function check(root, s, v, path, errors) {
    if (s === true || s === undefined) return;
    if (s === false) { errors.push({instancePath: path, message: 'must not be present'}); return; }
    if (s.$ref) { var ref = s.$ref.replace(/^#\//, '').split('/'); var t = root;
      ref.forEach(function (k) { t = t[k]; }); check(root, t, v, path, errors); }
    if (s.type && !typeOk(s.type, v)) { errors.push({instancePath: path, message: 'must be ' + s.type}); return; }
    if (s.enum && !s.enum.some(function (e) { return JSON.stringify(e) === JSON.stringify(v); }))
      errors.push({instancePath: path, message: 'must be equal to one of the allowed values'});
    if (s.const !== undefined && JSON.stringify(s.const) !== JSON.stringify(v))
      errors.push({instancePath: path, message: 'must be equal to constant'});
    if (typeof v === 'string' && s.pattern && !(new RegExp(s.pattern, 'u')).test(v))
      errors.push({instancePath: path, message: 'must match pattern "' + s.pattern + '"'});
    if (typeof v === 'string' && s.minLength !== undefined && v.length < s.minLength)
      errors.push({instancePath: path, message: 'must NOT have fewer than ' + s.minLength + ' characters'});
    if (Array.isArray(v)) {
      if (s.minItems !== undefined && v.length < s.minItems)
        errors.push({instancePath: path, message: 'must NOT have fewer than ' + s.minItems + ' items'});
      if (s.maxItems !== undefined && v.length > s.maxItems)
        errors.push({instancePath: path, message: 'must NOT have more than ' + s.maxItems + ' items'});
      if (s.items) v.forEach(function (x, i) { check(root, s.items, x, path + '/' + i, errors); });
    }
    if (typeOk('object', v)) {
      (s.required || []).forEach(function (k) {
        if (!(k in v)) errors.push({instancePath: path, message: "must have required property '" + k + "'"});
      });
      Object.keys(v).forEach(function (k) {
        var matched = false;
        if (s.properties && k in s.properties) { matched = true; check(root, s.properties[k], v[k], path + '/' + k, errors); }
        Object.keys(s.patternProperties || {}).forEach(function (p) {
          if ((new RegExp(p, 'u')).test(k)) { matched = true; check(root, s.patternProperties[p], v[k], path + '/' + k, errors); }
        });
        if (!matched && s.additionalProperties !== undefined) {
          if (s.additionalProperties === false) errors.push({instancePath: path, message: 'must NOT have additional properties (' + k + ')'});
          else check(root, s.additionalProperties, v[k], path + '/' + k, errors);
        }
      });
    }
  }
  window.ajv7 = function () {
    this.compile = function (schema) {
      var validate = function (data) {
        var errors = []; check(schema, schema, data, '', errors);
        validate.errors = errors.length ? errors : null; return errors.length === 0;
      };
      return validate;
    };
  };
})();

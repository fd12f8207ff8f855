import { createRequire as __WEBPACK_EXTERNAL_createRequire } from "module";
/******/ var __webpack_modules__ = ({

/***/ 71:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {


Object.defineProperty(exports, "__esModule", ({ value: true }));
exports.Builder = void 0;
const byte_buffer_js_1 = __nccwpck_require__(503);
const constants_js_1 = __nccwpck_require__(957);
class Builder {
    /**
     * Create a FlatBufferBuilder.
     */
    constructor(opt_initial_size) {
        /** Minimum alignment encountered so far. */
        this.minalign = 1;
        /** The vtable for the current table. */
        this.vtable = null;
        /** The amount of fields we're actually using. */
        this.vtable_in_use = 0;
        /** Whether we are currently serializing a table. */
        this.isNested = false;
        /** Starting offset of the current struct/table. */
        this.object_start = 0;
        /** List of offsets of all vtables. */
        this.vtables = [];
        /** For the current vector being built. */
        this.vector_num_elems = 0;
        /** False omits default values from the serialized data */
        this.force_defaults = false;
        this.string_maps = null;
        this.text_encoder = new TextEncoder();
        let initial_size;
        if (!opt_initial_size) {
            initial_size = 1024;
        }
        else {
            initial_size = opt_initial_size;
        }
        /**
         * @type {ByteBuffer}
         * @private
         */
        this.bb = byte_buffer_js_1.ByteBuffer.allocate(initial_size);
        this.space = initial_size;
    }
    clear() {
        this.bb.clear();
        this.space = this.bb.capacity();
        this.minalign = 1;
        this.vtable = null;
        this.vtable_in_use = 0;
        this.isNested = false;
        this.object_start = 0;
        this.vtables = [];
        this.vector_num_elems = 0;
        this.force_defaults = false;
        this.string_maps = null;
    }
    /**
     * In order to save space, fields that are set to their default value
     * don't get serialized into the buffer. Forcing defaults provides a
     * way to manually disable this optimization.
     *
     * @param forceDefaults true always serializes default values
     */
    forceDefaults(forceDefaults) {
        this.force_defaults = forceDefaults;
    }
    /**
     * Get the ByteBuffer representing the FlatBuffer. Only call this after you've
     * called finish(). The actual data starts at the ByteBuffer's current position,
     * not necessarily at 0.
     */
    dataBuffer() {
        return this.bb;
    }
    /**
     * Get the bytes representing the FlatBuffer. Only call this after you've
     * called finish().
     */
    asUint8Array() {
        return this.bb
            .bytes()
            .subarray(this.bb.position(), this.bb.position() + this.offset());
    }
    /**
     * Prepare to write an element of `size` after `additional_bytes` have been
     * written, e.g. if you write a string, you need to align such the int length
     * field is aligned to 4 bytes, and the string data follows it directly. If all
     * you need to do is alignment, `additional_bytes` will be 0.
     *
     * @param size This is the of the new element to write
     * @param additional_bytes The padding size
     */
    prep(size, additional_bytes) {
        // Track the biggest thing we've ever aligned to.
        if (size > this.minalign) {
            this.minalign = size;
        }
        // Find the amount of alignment needed such that `size` is properly
        // aligned after `additional_bytes`
        const align_size = (~(this.bb.capacity() - this.space + additional_bytes) + 1) & (size - 1);
        // Reallocate the buffer if needed.
        while (this.space < align_size + size + additional_bytes) {
            const old_buf_size = this.bb.capacity();
            this.bb = Builder.growByteBuffer(this.bb);
            this.space += this.bb.capacity() - old_buf_size;
        }
        this.pad(align_size);
    }
    pad(byte_size) {
        for (let i = 0; i < byte_size; i++) {
            this.bb.writeInt8(--this.space, 0);
        }
    }
    writeInt8(value) {
        this.bb.writeInt8((this.space -= 1), value);
    }
    writeInt16(value) {
        this.bb.writeInt16((this.space -= 2), value);
    }
    writeInt32(value) {
        this.bb.writeInt32((this.space -= 4), value);
    }
    writeInt64(value) {
        this.bb.writeInt64((this.space -= 8), value);
    }
    writeFloat32(value) {
        this.bb.writeFloat32((this.space -= 4), value);
    }
    writeFloat64(value) {
        this.bb.writeFloat64((this.space -= 8), value);
    }
    /**
     * Add an `int8` to the buffer, properly aligned, and grows the buffer (if necessary).
     * @param value The `int8` to add the buffer.
     */
    addInt8(value) {
        this.prep(1, 0);
        this.writeInt8(value);
    }
    /**
     * Add an `int16` to the buffer, properly aligned, and grows the buffer (if necessary).
     * @param value The `int16` to add the buffer.
     */
    addInt16(value) {
        this.prep(2, 0);
        this.writeInt16(value);
    }
    /**
     * Add an `int32` to the buffer, properly aligned, and grows the buffer (if necessary).
     * @param value The `int32` to add the buffer.
     */
    addInt32(value) {
        this.prep(4, 0);
        this.writeInt32(value);
    }
    /**
     * Add an `int64` to the buffer, properly aligned, and grows the buffer (if necessary).
     * @param value The `int64` to add the buffer.
     */
    addInt64(value) {
        this.prep(8, 0);
        this.writeInt64(value);
    }
    /**
     * Add a `float32` to the buffer, properly aligned, and grows the buffer (if necessary).
     * @param value The `float32` to add the buffer.
     */
    addFloat32(value) {
        this.prep(4, 0);
        this.writeFloat32(value);
    }
    /**
     * Add a `float64` to the buffer, properly aligned, and grows the buffer (if necessary).
     * @param value The `float64` to add the buffer.
     */
    addFloat64(value) {
        this.prep(8, 0);
        this.writeFloat64(value);
    }
    addFieldInt8(voffset, value, defaultValue) {
        if (this.force_defaults || value != defaultValue) {
            this.addInt8(value);
            this.slot(voffset);
        }
    }
    addFieldInt16(voffset, value, defaultValue) {
        if (this.force_defaults || value != defaultValue) {
            this.addInt16(value);
            this.slot(voffset);
        }
    }
    addFieldInt32(voffset, value, defaultValue) {
        if (this.force_defaults || value != defaultValue) {
            this.addInt32(value);
            this.slot(voffset);
        }
    }
    addFieldInt64(voffset, value, defaultValue) {
        if (this.force_defaults || value !== defaultValue) {
            this.addInt64(value);
            this.slot(voffset);
        }
    }
    addFieldFloat32(voffset, value, defaultValue) {
        if (this.force_defaults || value != defaultValue) {
            this.addFloat32(value);
            this.slot(voffset);
        }
    }
    addFieldFloat64(voffset, value, defaultValue) {
        if (this.force_defaults || value != defaultValue) {
            this.addFloat64(value);
            this.slot(voffset);
        }
    }
    addFieldOffset(voffset, value, defaultValue) {
        if (this.force_defaults || value != defaultValue) {
            this.addOffset(value);
            this.slot(voffset);
        }
    }
    /**
     * Structs are stored inline, so nothing additional is being added. `d` is always 0.
     */
    addFieldStruct(voffset, value, defaultValue) {
        if (value != defaultValue) {
            this.nested(value);
            this.slot(voffset);
        }
    }
    /**
     * Structures are always stored inline, they need to be created right
     * where they're used.  You'll get this assertion failure if you
     * created it elsewhere.
     */
    nested(obj) {
        if (obj != this.offset()) {
            throw new TypeError('FlatBuffers: struct must be serialized inline.');
        }
    }
    /**
     * Should not be creating any other object, string or vector
     * while an object is being constructed
     */
    notNested() {
        if (this.isNested) {
            throw new TypeError('FlatBuffers: object serialization must not be nested.');
        }
    }
    /**
     * Set the current vtable at `voffset` to the current location in the buffer.
     */
    slot(voffset) {
        if (this.vtable !== null)
            this.vtable[voffset] = this.offset();
    }
    /**
     * @returns Offset relative to the end of the buffer.
     */
    offset() {
        return this.bb.capacity() - this.space;
    }
    /**
     * Doubles the size of the backing ByteBuffer and copies the old data towards
     * the end of the new buffer (since we build the buffer backwards).
     *
     * @param bb The current buffer with the existing data
     * @returns A new byte buffer with the old data copied
     * to it. The data is located at the end of the buffer.
     *
     * uint8Array.set() formally takes {Array<number>|ArrayBufferView}, so to pass
     * it a uint8Array we need to suppress the type check:
     * @suppress {checkTypes}
     */
    static growByteBuffer(bb) {
        const old_buf_size = bb.capacity();
        // Ensure we don't grow beyond what fits in an int.
        if (old_buf_size & 0xc0000000) {
            throw new Error('FlatBuffers: cannot grow buffer beyond 2 gigabytes.');
        }
        const new_buf_size = old_buf_size << 1;
        const nbb = byte_buffer_js_1.ByteBuffer.allocate(new_buf_size);
        nbb.setPosition(new_buf_size - old_buf_size);
        nbb.bytes().set(bb.bytes(), new_buf_size - old_buf_size);
        return nbb;
    }
    /**
     * Adds on offset, relative to where it will be written.
     *
     * @param offset The offset to add.
     */
    addOffset(offset) {
        this.prep(constants_js_1.SIZEOF_INT, 0); // Ensure alignment is already done.
        this.writeInt32(this.offset() - offset + constants_js_1.SIZEOF_INT);
    }
    /**
     * Start encoding a new object in the buffer.  Users will not usually need to
     * call this directly. The FlatBuffers compiler will generate helper methods
     * that call this method internally.
     */
    startObject(numfields) {
        this.notNested();
        if (this.vtable == null) {
            this.vtable = [];
        }
        this.vtable_in_use = numfields;
        for (let i = 0; i < numfields; i++) {
            this.vtable[i] = 0; // This will push additional elements as needed
        }
        this.isNested = true;
        this.object_start = this.offset();
    }
    /**
     * Finish off writing the object that is under construction.
     *
     * @returns The offset to the object inside `dataBuffer`
     */
    endObject() {
        if (this.vtable == null || !this.isNested) {
            throw new Error('FlatBuffers: endObject called without startObject');
        }
        this.addInt32(0);
        const vtableloc = this.offset();
        // Trim trailing zeroes.
        let i = this.vtable_in_use - 1;
        // eslint-disable-next-line no-empty
        for (; i >= 0 && this.vtable[i] == 0; i--) { }
        const trimmed_size = i + 1;
        // Write out the current vtable.
        for (; i >= 0; i--) {
            // Offset relative to the start of the table.
            this.addInt16(this.vtable[i] != 0 ? vtableloc - this.vtable[i] : 0);
        }
        const standard_fields = 2; // The fields below:
        this.addInt16(vtableloc - this.object_start);
        const len = (trimmed_size + standard_fields) * constants_js_1.SIZEOF_SHORT;
        this.addInt16(len);
        // Search for an existing vtable that matches the current one.
        let existing_vtable = 0;
        const vt1 = this.space;
        outer_loop: for (i = 0; i < this.vtables.length; i++) {
            const vt2 = this.bb.capacity() - this.vtables[i];
            if (len == this.bb.readInt16(vt2)) {
                for (let j = constants_js_1.SIZEOF_SHORT; j < len; j += constants_js_1.SIZEOF_SHORT) {
                    if (this.bb.readInt16(vt1 + j) != this.bb.readInt16(vt2 + j)) {
                        continue outer_loop;
                    }
                }
                existing_vtable = this.vtables[i];
                break;
            }
        }
        if (existing_vtable) {
            // Found a match:
            // Remove the current vtable.
            this.space = this.bb.capacity() - vtableloc;
            // Point table to existing vtable.
            this.bb.writeInt32(this.space, existing_vtable - vtableloc);
        }
        else {
            // No match:
            // Add the location of the current vtable to the list of vtables.
            this.vtables.push(this.offset());
            // Point table to current vtable.
            this.bb.writeInt32(this.bb.capacity() - vtableloc, this.offset() - vtableloc);
        }
        this.isNested = false;
        return vtableloc;
    }
    /**
     * Finalize a buffer, poiting to the given `root_table`.
     */
    finish(root_table, opt_file_identifier, opt_size_prefix) {
        const size_prefix = opt_size_prefix ? constants_js_1.SIZE_PREFIX_LENGTH : 0;
        if (opt_file_identifier) {
            const file_identifier = opt_file_identifier;
            this.prep(this.minalign, constants_js_1.SIZEOF_INT + constants_js_1.FILE_IDENTIFIER_LENGTH + size_prefix);
            if (file_identifier.length != constants_js_1.FILE_IDENTIFIER_LENGTH) {
                throw new TypeError('FlatBuffers: file identifier must be length ' +
                    constants_js_1.FILE_IDENTIFIER_LENGTH);
            }
            for (let i = constants_js_1.FILE_IDENTIFIER_LENGTH - 1; i >= 0; i--) {
                this.writeInt8(file_identifier.charCodeAt(i));
            }
        }
        this.prep(this.minalign, constants_js_1.SIZEOF_INT + size_prefix);
        this.addOffset(root_table);
        if (size_prefix) {
            this.addInt32(this.bb.capacity() - this.space);
        }
        this.bb.setPosition(this.space);
    }
    /**
     * Finalize a size prefixed buffer, pointing to the given `root_table`.
     */
    finishSizePrefixed(root_table, opt_file_identifier) {
        this.finish(root_table, opt_file_identifier, true);
    }
    /**
     * This checks a required field has been set in a given table that has
     * just been constructed.
     */
    requiredField(table, field) {
        const table_start = this.bb.capacity() - table;
        const vtable_start = table_start - this.bb.readInt32(table_start);
        const ok = field < this.bb.readInt16(vtable_start) &&
            this.bb.readInt16(vtable_start + field) != 0;
        // If this fails, the caller will show what field needs to be set.
        if (!ok) {
            throw new TypeError('FlatBuffers: field ' + field + ' must be set');
        }
    }
    /**
     * Start a new array/vector of objects.  Users usually will not call
     * this directly. The FlatBuffers compiler will create a start/end
     * method for vector types in generated code.
     *
     * @param elem_size The size of each element in the array
     * @param num_elems The number of elements in the array
     * @param alignment The alignment of the array
     */
    startVector(elem_size, num_elems, alignment) {
        this.notNested();
        this.vector_num_elems = num_elems;
        this.prep(constants_js_1.SIZEOF_INT, elem_size * num_elems);
        this.prep(alignment, elem_size * num_elems); // Just in case alignment > int.
    }
    /**
     * Finish off the creation of an array and all its elements. The array must be
     * created with `startVector`.
     *
     * @returns The offset at which the newly created array
     * starts.
     */
    endVector() {
        this.writeInt32(this.vector_num_elems);
        return this.offset();
    }
    /**
     * Encode the string `s` in the buffer using UTF-8. If the string passed has
     * already been seen, we return the offset of the already written string
     *
     * @param s The string to encode
     * @return The offset in the buffer where the encoded string starts
     */
    createSharedString(s) {
        if (!s) {
            return 0;
        }
        if (!this.string_maps) {
            this.string_maps = new Map();
        }
        if (this.string_maps.has(s)) {
            return this.string_maps.get(s);
        }
        const offset = this.createString(s);
        this.string_maps.set(s, offset);
        return offset;
    }
    /**
     * Encode the string `s` in the buffer using UTF-8. If a Uint8Array is passed
     * instead of a string, it is assumed to contain valid UTF-8 encoded data.
     *
     * @param s The string to encode
     * @return The offset in the buffer where the encoded string starts
     */
    createString(s) {
        if (s === null || s === undefined) {
            return 0;
        }
        let utf8;
        if (s instanceof Uint8Array) {
            utf8 = s;
        }
        else {
            utf8 = this.text_encoder.encode(s);
        }
        this.addInt8(0);
        this.startVector(1, utf8.length, 1);
        this.bb.setPosition((this.space -= utf8.length));
        this.bb.bytes().set(utf8, this.space);
        return this.endVector();
    }
    /**
     * Create a byte vector.
     *
     * @param v The bytes to add
     * @returns The offset in the buffer where the byte vector starts
     */
    createByteVector(v) {
        if (v === null || v === undefined) {
            return 0;
        }
        this.startVector(1, v.length, 1);
        this.bb.setPosition((this.space -= v.length));
        this.bb.bytes().set(v, this.space);
        return this.endVector();
    }
    /**
     * A helper function to pack an object
     *
     * @returns offset of obj
     */
    createObjectOffset(obj) {
        if (obj === null) {
            return 0;
        }
        if (typeof obj === 'string') {
            return this.createString(obj);
        }
        else {
            return obj.pack(this);
        }
    }
    /**
     * A helper function to pack a list of object
     *
     * @returns list of offsets of each non null object
     */
    createObjectOffsetList(list) {
        const ret = [];
        for (let i = 0; i < list.length; ++i) {
            const val = list[i];
            if (val !== null) {
                ret.push(this.createObjectOffset(val));
            }
            else {
                throw new TypeError('FlatBuffers: Argument for createObjectOffsetList cannot contain null.');
            }
        }
        return ret;
    }
    createStructOffsetList(list, startFunc) {
        startFunc(this, list.length);
        this.createObjectOffsetList(list.slice().reverse());
        return this.endVector();
    }
}
exports.Builder = Builder;


/***/ }),

/***/ 503:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {


Object.defineProperty(exports, "__esModule", ({ value: true }));
exports.ByteBuffer = void 0;
const constants_js_1 = __nccwpck_require__(957);
const encoding_js_1 = __nccwpck_require__(631);
const utils_js_1 = __nccwpck_require__(321);
class ByteBuffer {
    /**
     * Create a new ByteBuffer with a given array of bytes (`Uint8Array`)
     */
    constructor(bytes_) {
        this.bytes_ = bytes_;
        this.position_ = 0;
        this.text_decoder_ = new TextDecoder();
    }
    /**
     * Create and allocate a new ByteBuffer with a given size.
     */
    static allocate(byte_size) {
        return new ByteBuffer(new Uint8Array(byte_size));
    }
    clear() {
        this.position_ = 0;
    }
    /**
     * Get the underlying `Uint8Array`.
     */
    bytes() {
        return this.bytes_;
    }
    /**
     * Get the buffer's position.
     */
    position() {
        return this.position_;
    }
    /**
     * Set the buffer's position.
     */
    setPosition(position) {
        this.position_ = position;
    }
    /**
     * Get the buffer's capacity.
     */
    capacity() {
        return this.bytes_.length;
    }
    readInt8(offset) {
        return (this.readUint8(offset) << 24) >> 24;
    }
    readUint8(offset) {
        return this.bytes_[offset];
    }
    readInt16(offset) {
        return (this.readUint16(offset) << 16) >> 16;
    }
    readUint16(offset) {
        return this.bytes_[offset] | (this.bytes_[offset + 1] << 8);
    }
    readInt32(offset) {
        return (this.bytes_[offset] |
            (this.bytes_[offset + 1] << 8) |
            (this.bytes_[offset + 2] << 16) |
            (this.bytes_[offset + 3] << 24));
    }
    readUint32(offset) {
        return this.readInt32(offset) >>> 0;
    }
    readInt64(offset) {
        return BigInt.asIntN(64, BigInt(this.readUint32(offset)) +
            (BigInt(this.readUint32(offset + 4)) << BigInt(32)));
    }
    readUint64(offset) {
        return BigInt.asUintN(64, BigInt(this.readUint32(offset)) +
            (BigInt(this.readUint32(offset + 4)) << BigInt(32)));
    }
    readFloat32(offset) {
        utils_js_1.int32[0] = this.readInt32(offset);
        return utils_js_1.float32[0];
    }
    readFloat64(offset) {
        utils_js_1.int32[utils_js_1.isLittleEndian ? 0 : 1] = this.readInt32(offset);
        utils_js_1.int32[utils_js_1.isLittleEndian ? 1 : 0] = this.readInt32(offset + 4);
        return utils_js_1.float64[0];
    }
    writeInt8(offset, value) {
        this.bytes_[offset] = value;
    }
    writeUint8(offset, value) {
        this.bytes_[offset] = value;
    }
    writeInt16(offset, value) {
        this.bytes_[offset] = value;
        this.bytes_[offset + 1] = value >> 8;
    }
    writeUint16(offset, value) {
        this.bytes_[offset] = value;
        this.bytes_[offset + 1] = value >> 8;
    }
    writeInt32(offset, value) {
        this.bytes_[offset] = value;
        this.bytes_[offset + 1] = value >> 8;
        this.bytes_[offset + 2] = value >> 16;
        this.bytes_[offset + 3] = value >> 24;
    }
    writeUint32(offset, value) {
        this.bytes_[offset] = value;
        this.bytes_[offset + 1] = value >> 8;
        this.bytes_[offset + 2] = value >> 16;
        this.bytes_[offset + 3] = value >> 24;
    }
    writeInt64(offset, value) {
        this.writeInt32(offset, Number(BigInt.asIntN(32, value)));
        this.writeInt32(offset + 4, Number(BigInt.asIntN(32, value >> BigInt(32))));
    }
    writeUint64(offset, value) {
        this.writeUint32(offset, Number(BigInt.asUintN(32, value)));
        this.writeUint32(offset + 4, Number(BigInt.asUintN(32, value >> BigInt(32))));
    }
    writeFloat32(offset, value) {
        utils_js_1.float32[0] = value;
        this.writeInt32(offset, utils_js_1.int32[0]);
    }
    writeFloat64(offset, value) {
        utils_js_1.float64[0] = value;
        this.writeInt32(offset, utils_js_1.int32[utils_js_1.isLittleEndian ? 0 : 1]);
        this.writeInt32(offset + 4, utils_js_1.int32[utils_js_1.isLittleEndian ? 1 : 0]);
    }
    /**
     * Return the file identifier.   Behavior is undefined for FlatBuffers whose
     * schema does not include a file_identifier (likely points at padding or the
     * start of a the root vtable).
     */
    getBufferIdentifier() {
        if (this.bytes_.length <
            this.position_ + constants_js_1.SIZEOF_INT + constants_js_1.FILE_IDENTIFIER_LENGTH) {
            throw new Error('FlatBuffers: ByteBuffer is too short to contain an identifier.');
        }
        let result = '';
        for (let i = 0; i < constants_js_1.FILE_IDENTIFIER_LENGTH; i++) {
            result += String.fromCharCode(this.readInt8(this.position_ + constants_js_1.SIZEOF_INT + i));
        }
        return result;
    }
    /**
     * Look up a field in the vtable, return an offset into the object, or 0 if the
     * field is not present.
     */
    __offset(bb_pos, vtable_offset) {
        const vtable = bb_pos - this.readInt32(bb_pos);
        return vtable_offset < this.readInt16(vtable)
            ? this.readInt16(vtable + vtable_offset)
            : 0;
    }
    /**
     * Initialize any Table-derived type to point to the union at the given offset.
     */
    __union(t, offset) {
        t.bb_pos = offset + this.readInt32(offset);
        t.bb = this;
        return t;
    }
    /**
     * Create a JavaScript string from UTF-8 data stored inside the FlatBuffer.
     * This allocates a new string and converts to wide chars upon each access.
     *
     * To avoid the conversion to string, pass Encoding.UTF8_BYTES as the
     * "optionalEncoding" argument. This is useful for avoiding conversion when
     * the data will just be packaged back up in another FlatBuffer later on.
     *
     * @param offset
     * @param opt_encoding Defaults to UTF16_STRING
     */
    __string(offset, opt_encoding) {
        offset += this.readInt32(offset);
        const length = this.readInt32(offset);
        offset += constants_js_1.SIZEOF_INT;
        const utf8bytes = this.bytes_.subarray(offset, offset + length);
        if (opt_encoding === encoding_js_1.Encoding.UTF8_BYTES)
            return utf8bytes;
        else
            return this.text_decoder_.decode(utf8bytes);
    }
    /**
     * Handle unions that can contain string as its member, if a Table-derived type then initialize it,
     * if a string then return a new one
     *
     * WARNING: strings are immutable in JS so we can't change the string that the user gave us, this
     * makes the behaviour of __union_with_string different compared to __union
     */
    __union_with_string(o, offset) {
        if (typeof o === 'string') {
            return this.__string(offset);
        }
        return this.__union(o, offset);
    }
    /**
     * Retrieve the relative offset stored at "offset"
     */
    __indirect(offset) {
        return offset + this.readInt32(offset);
    }
    /**
     * Get the start of data of a vector whose offset is stored at "offset" in this object.
     */
    __vector(offset) {
        return offset + this.readInt32(offset) + constants_js_1.SIZEOF_INT; // data starts after the length
    }
    /**
     * Get the length of a vector whose offset is stored at "offset" in this object.
     */
    __vector_len(offset) {
        return this.readInt32(offset + this.readInt32(offset));
    }
    __has_identifier(ident) {
        if (ident.length != constants_js_1.FILE_IDENTIFIER_LENGTH) {
            throw new Error('FlatBuffers: file identifier must be length ' + constants_js_1.FILE_IDENTIFIER_LENGTH);
        }
        for (let i = 0; i < constants_js_1.FILE_IDENTIFIER_LENGTH; i++) {
            if (ident.charCodeAt(i) != this.readInt8(this.position() + constants_js_1.SIZEOF_INT + i)) {
                return false;
            }
        }
        return true;
    }
    /**
     * A helper function for generating list for obj api
     */
    createScalarList(listAccessor, listLength) {
        const ret = [];
        for (let i = 0; i < listLength; ++i) {
            const val = listAccessor(i);
            if (val !== null) {
                ret.push(val);
            }
        }
        return ret;
    }
    /**
     * A helper function for generating list for obj api
     * @param listAccessor function that accepts an index and return data at that index
     * @param listLength listLength
     * @param res result list
     */
    createObjList(listAccessor, listLength) {
        const ret = [];
        for (let i = 0; i < listLength; ++i) {
            const val = listAccessor(i);
            if (val !== null) {
                ret.push(val.unpack());
            }
        }
        return ret;
    }
}
exports.ByteBuffer = ByteBuffer;


/***/ }),

/***/ 957:
/***/ ((__unused_webpack_module, exports) => {


Object.defineProperty(exports, "__esModule", ({ value: true }));
exports.SIZE_PREFIX_LENGTH = exports.FILE_IDENTIFIER_LENGTH = exports.SIZEOF_INT = exports.SIZEOF_SHORT = void 0;
exports.SIZEOF_SHORT = 2;
exports.SIZEOF_INT = 4;
exports.FILE_IDENTIFIER_LENGTH = 4;
exports.SIZE_PREFIX_LENGTH = 4;


/***/ }),

/***/ 631:
/***/ ((__unused_webpack_module, exports) => {


Object.defineProperty(exports, "__esModule", ({ value: true }));
exports.Encoding = void 0;
var Encoding;
(function (Encoding) {
    Encoding[Encoding["UTF8_BYTES"] = 1] = "UTF8_BYTES";
    Encoding[Encoding["UTF16_STRING"] = 2] = "UTF16_STRING";
})(Encoding || (exports.Encoding = Encoding = {}));


/***/ }),

/***/ 558:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {

var __webpack_unused_export__;

__webpack_unused_export__ = ({ value: true });
__webpack_unused_export__ = exports.$F = __webpack_unused_export__ = __webpack_unused_export__ = __webpack_unused_export__ = __webpack_unused_export__ = __webpack_unused_export__ = __webpack_unused_export__ = __webpack_unused_export__ = __webpack_unused_export__ = __webpack_unused_export__ = void 0;
var constants_js_1 = __nccwpck_require__(957);
__webpack_unused_export__ = ({ enumerable: true, get: function () { return constants_js_1.FILE_IDENTIFIER_LENGTH; } });
__webpack_unused_export__ = ({ enumerable: true, get: function () { return constants_js_1.SIZEOF_INT; } });
__webpack_unused_export__ = ({ enumerable: true, get: function () { return constants_js_1.SIZEOF_SHORT; } });
__webpack_unused_export__ = ({ enumerable: true, get: function () { return constants_js_1.SIZE_PREFIX_LENGTH; } });
var utils_js_1 = __nccwpck_require__(321);
__webpack_unused_export__ = ({ enumerable: true, get: function () { return utils_js_1.float32; } });
__webpack_unused_export__ = ({ enumerable: true, get: function () { return utils_js_1.float64; } });
__webpack_unused_export__ = ({ enumerable: true, get: function () { return utils_js_1.int32; } });
__webpack_unused_export__ = ({ enumerable: true, get: function () { return utils_js_1.isLittleEndian; } });
var builder_js_1 = __nccwpck_require__(71);
__webpack_unused_export__ = ({ enumerable: true, get: function () { return builder_js_1.Builder; } });
var byte_buffer_js_1 = __nccwpck_require__(503);
Object.defineProperty(exports, "$F", ({ enumerable: true, get: function () { return byte_buffer_js_1.ByteBuffer; } }));
var encoding_js_1 = __nccwpck_require__(631);
__webpack_unused_export__ = ({ enumerable: true, get: function () { return encoding_js_1.Encoding; } });


/***/ }),

/***/ 321:
/***/ ((__unused_webpack_module, exports) => {


Object.defineProperty(exports, "__esModule", ({ value: true }));
exports.isLittleEndian = exports.float64 = exports.float32 = exports.int32 = void 0;
exports.int32 = new Int32Array(2);
exports.float32 = new Float32Array(exports.int32.buffer);
exports.float64 = new Float64Array(exports.int32.buffer);
exports.isLittleEndian = new Uint16Array(new Uint8Array([1, 0]).buffer)[0] === 1;


/***/ })

/******/ });
/************************************************************************/
/******/ // The module cache
/******/ var __webpack_module_cache__ = {};
/******/ 
/******/ // The require function
/******/ function __nccwpck_require__(moduleId) {
/******/ 	// Check if module is in cache
/******/ 	var cachedModule = __webpack_module_cache__[moduleId];
/******/ 	if (cachedModule !== undefined) {
/******/ 		return cachedModule.exports;
/******/ 	}
/******/ 	// Create a new module (and put it into the cache)
/******/ 	var module = __webpack_module_cache__[moduleId] = {
/******/ 		// no module.id needed
/******/ 		// no module.loaded needed
/******/ 		exports: {}
/******/ 	};
/******/ 
/******/ 	// Execute the module function
/******/ 	var threw = true;
/******/ 	try {
/******/ 		__webpack_modules__[moduleId](module, module.exports, __nccwpck_require__);
/******/ 		threw = false;
/******/ 	} finally {
/******/ 		if(threw) delete __webpack_module_cache__[moduleId];
/******/ 	}
/******/ 
/******/ 	// Return the exports of the module
/******/ 	return module.exports;
/******/ }
/******/ 
/************************************************************************/
/******/ /* webpack/runtime/compat get default export */
/******/ (() => {
/******/ 	// getDefaultExport function for compatibility with non-harmony modules
/******/ 	__nccwpck_require__.n = (module) => {
/******/ 		var getter = module && module.__esModule ?
/******/ 			() => (module['default']) :
/******/ 			() => (module);
/******/ 		__nccwpck_require__.d(getter, { a: getter });
/******/ 		return getter;
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/define property getters */
/******/ (() => {
/******/ 	// define getter functions for harmony exports
/******/ 	__nccwpck_require__.d = (exports, definition) => {
/******/ 		for(var key in definition) {
/******/ 			if(__nccwpck_require__.o(definition, key) && !__nccwpck_require__.o(exports, key)) {
/******/ 				Object.defineProperty(exports, key, { enumerable: true, get: definition[key] });
/******/ 			}
/******/ 		}
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/hasOwnProperty shorthand */
/******/ (() => {
/******/ 	__nccwpck_require__.o = (obj, prop) => (Object.prototype.hasOwnProperty.call(obj, prop))
/******/ })();
/******/ 
/******/ /* webpack/runtime/compat */
/******/ 
/******/ if (typeof __nccwpck_require__ !== 'undefined') __nccwpck_require__.ab = new URL('.', import.meta.url).pathname.slice(import.meta.url.match(/^file:\/\/\/\w:/) ? 1 : 0, -1) + "/";
/******/ 
/************************************************************************/
var __webpack_exports__ = {};

;// CONCATENATED MODULE: external "node:fs"
const external_node_fs_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:fs");
;// CONCATENATED MODULE: external "node:os"
const external_node_os_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:os");
var external_node_os_default = /*#__PURE__*/__nccwpck_require__.n(external_node_os_namespaceObject);
;// CONCATENATED MODULE: external "node:path"
const external_node_path_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:path");
var external_node_path_default = /*#__PURE__*/__nccwpck_require__.n(external_node_path_namespaceObject);
;// CONCATENATED MODULE: external "node:child_process"
const external_node_child_process_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:child_process");
;// CONCATENATED MODULE: ./src/errors.ts
/**
 * Errors the user can act on. `exitCode` follows the CLI contract:
 * 2 = usage or input error (bad config, unreadable model, hostile file), 1 is reserved for a failed gate.
 */
class errors_ModelGateError extends Error {
    exitCode = 2;
    constructor(message, options) {
        super(message, options);
        this.name = 'ModelGateError';
    }
}
function errorMessage(err) {
    return err instanceof Error ? err.message : String(err);
}

;// CONCATENATED MODULE: ./src/runtime/ort.ts
/**
 * Locating onnxruntime-node at run time.
 *
 * ncc bundles JavaScript but not onnxruntime-node's native library (about 45 MB per platform),
 * and committing every platform's binary to dist/ would cost hundreds of MB. So the bundle
 * resolves the package in this order:
 *   1. MODELGATE_ORT_PATH (a folder that contains the onnxruntime-node package);
 *   2. node_modules beside the bundle (a checkout that ran `npm ci`, and the CLI's own install);
 *   3. node_modules of the working directory (a user repo that already depends on it);
 *   4. a one-time `npm install` of the pinned version into the runner's tool cache
 *      (RUNNER_TOOL_CACHE, else ~/.cache), with its CUDA postinstall skipped. The npm tarball
 *      carries the CPU binaries for linux/darwin/win32 x64/arm64, so this works on every hosted runner.
 */





const ORT_VERSION = '1.30.0';
// webpack (ncc) rewrites `createRequire`; process.getBuiltinModule keeps a real one.
const { createRequire } = process.getBuiltinModule('node:module');
let cached;
function tryRequire(from) {
    try {
        const req = createRequire(from);
        return req(req.resolve('onnxruntime-node'));
    }
    catch {
        return undefined;
    }
}
function toolCacheDir() {
    const base = process.env.RUNNER_TOOL_CACHE || external_node_path_default().join(external_node_os_default().homedir(), '.cache');
    return external_node_path_default().join(base, 'modelgate', `onnxruntime-node-${ORT_VERSION}`);
}
function loadOrt(log = () => { }) {
    if (cached)
        return cached;
    const candidates = [];
    if (process.env.MODELGATE_ORT_PATH)
        candidates.push(external_node_path_default().join(external_node_path_default().resolve(process.env.MODELGATE_ORT_PATH), 'x.js'));
    candidates.push(import.meta.url, external_node_path_default().join(process.cwd(), 'x.js'), external_node_path_default().join(toolCacheDir(), 'x.js'));
    for (const from of candidates) {
        const ort = tryRequire(from);
        if (ort)
            return (cached = ort);
    }
    const dir = toolCacheDir();
    log(`onnxruntime-node ${ORT_VERSION} not found; installing it into ${dir}`);
    try {
        (0,external_node_fs_namespaceObject.mkdirSync)(dir, { recursive: true });
        if (!(0,external_node_fs_namespaceObject.existsSync)(external_node_path_default().join(dir, 'package.json')))
            (0,external_node_child_process_namespaceObject.execFileSync)('npm', ['init', '-y'], { cwd: dir, stdio: 'ignore', shell: process.platform === 'win32' });
        (0,external_node_child_process_namespaceObject.execFileSync)('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', `onnxruntime-node@${ORT_VERSION}`], {
            cwd: dir,
            stdio: 'ignore',
            shell: process.platform === 'win32',
            env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip', ONNXRUNTIME_NODE_INSTALL_CUDA: 'skip' },
        });
    }
    catch (err) {
        throw new errors_ModelGateError(`could not install onnxruntime-node ${ORT_VERSION} into ${dir}: ${errorMessage(err)}; set MODELGATE_ORT_PATH to a folder that has it`);
    }
    const ort = tryRequire(external_node_path_default().join(dir, 'x.js'));
    if (!ort)
        throw new errors_ModelGateError(`onnxruntime-node ${ORT_VERSION} was installed into ${dir} but does not load on ${process.platform}-${process.arch}`);
    return (cached = ort);
}

;// CONCATENATED MODULE: ./src/runtime/session.ts


function toOrtOptions(o) {
    const opts = {
        intraOpNumThreads: o.intraOpThreads ?? 1,
        interOpNumThreads: o.interOpThreads ?? 1,
        executionMode: o.executionMode ?? 'sequential',
        graphOptimizationLevel: o.graphOptimizationLevel ?? 'all',
        executionProviders: (o.executionProviders ?? ['cpu']),
    };
    if (o.configEntries && Object.keys(o.configEntries).length > 0)
        opts.extra = nestEntries(o.configEntries);
    if (o.optimizedModelFilePath)
        opts.optimizedModelFilePath = o.optimizedModelFilePath;
    return opts;
}
/** onnxruntime-node takes config entries as a nested `extra` object: 'session.x' → { session: { x } }. */
function nestEntries(entries) {
    const out = {};
    for (const [key, value] of Object.entries(entries)) {
        const parts = key.split('.');
        let cur = out;
        for (const p of parts.slice(0, -1))
            cur = (cur[p] ??= {});
        cur[parts[parts.length - 1]] = value;
    }
    return out;
}
class OrtSession {
    ort;
    session;
    label;
    constructor(ort, session, label) {
        this.ort = ort;
        this.session = session;
        this.label = label;
    }
    static async create(model, options = {}, label = typeof model === 'string' ? model : '<memory>') {
        const ort = loadOrt();
        try {
            const opts = toOrtOptions(options);
            const session = typeof model === 'string' ? await ort.InferenceSession.create(model, opts) : await ort.InferenceSession.create(model, opts);
            return new OrtSession(ort, session, label);
        }
        catch (err) {
            throw new errors_ModelGateError(`${label}: onnxruntime could not load the model: ${errorMessage(err)}`, { cause: err });
        }
    }
    get inputNames() {
        return this.session.inputNames;
    }
    get outputNames() {
        return this.session.outputNames;
    }
    toOrtFeeds(feeds) {
        const out = {};
        for (const [name, t] of Object.entries(feeds)) {
            out[name] = new this.ort.Tensor(t.type, t.data, t.dims);
        }
        return out;
    }
    /** Runs already-converted feeds: the benchmark loop's path, with no conversion per call. */
    async runOrt(feeds) {
        return this.session.run(feeds);
    }
    async run(feeds, outputNames) {
        let result;
        try {
            result = outputNames ? await this.session.run(this.toOrtFeeds(feeds), outputNames) : await this.session.run(this.toOrtFeeds(feeds));
        }
        catch (err) {
            throw new errors_ModelGateError(`${this.label}: inference failed: ${errorMessage(err)}`, { cause: err });
        }
        const out = {};
        for (const [name, v] of Object.entries(result)) {
            const t = v;
            out[name] = { type: t.type, dims: [...t.dims], data: t.data };
        }
        return out;
    }
    async release() {
        await this.session.release();
    }
}

// EXTERNAL MODULE: ./node_modules/flatbuffers/js/flatbuffers.js
var flatbuffers = __nccwpck_require__(558);
;// CONCATENATED MODULE: ./src/export/tflite/schema.ts
/**
 * The parts of the TensorFlow Lite flatbuffer schema (tensorflow/lite/schema/schema.fbs, schema version 3,
 * file identifier "TFL3") that ModelGate reads and writes. No copy of schema.fbs ships in any npm package we
 * install (tfjs-tflite-node ships only the C API headers), so the codec is written by hand against the
 * schema's field order: in a flatbuffer table, field i sits in vtable slot i, and a union field takes two
 * slots (its type byte, then the table). The slot numbers below are that order, counted from schema.fbs.
 */
const schema_FILE_IDENTIFIER = 'TFL3';
const schema_SCHEMA_VERSION = 3;
/** enum TensorType : byte */
const TensorType = {
    FLOAT32: 0, FLOAT16: 1, INT32: 2, UINT8: 3, INT64: 4, STRING: 5, BOOL: 6, INT16: 7, COMPLEX64: 8, INT8: 9,
    FLOAT64: 10, COMPLEX128: 11, UINT64: 12, RESOURCE: 13, VARIANT: 14, UINT32: 15, UINT16: 16, INT4: 17,
};
const schema_TENSOR_TYPE_NAMES = Object.fromEntries(Object.entries(TensorType).map(([k, v]) => [v, k]));
/** Bytes per element, for the types a buffer can hold here. */
const schema_TENSOR_TYPE_BYTES = {
    [TensorType.FLOAT32]: 4, [TensorType.FLOAT16]: 2, [TensorType.INT32]: 4, [TensorType.UINT8]: 1, [TensorType.INT64]: 8,
    [TensorType.BOOL]: 1, [TensorType.INT16]: 2, [TensorType.INT8]: 1, [TensorType.FLOAT64]: 8, [TensorType.UINT64]: 8,
    [TensorType.UINT32]: 4, [TensorType.UINT16]: 2,
};
/** enum BuiltinOperator : int32 (only the codes ModelGate emits or imports are named; others print as numbers). */
const schema_Op = {
    ADD: 0, AVERAGE_POOL_2D: 1, CONCATENATION: 2, CONV_2D: 3, DEPTHWISE_CONV_2D: 4, DEQUANTIZE: 6, FULLY_CONNECTED: 9,
    LOGISTIC: 14, MAX_POOL_2D: 17, MUL: 18, RELU: 19, RELU_N1_TO_1: 20, RELU6: 21, RESHAPE: 22, SOFTMAX: 25, TANH: 28,
    CUSTOM: 32, PAD: 34, TRANSPOSE: 39, MEAN: 40, SUB: 41, SQUEEZE: 43, PADV2: 60, QUANTIZE: 114,
    PLACEHOLDER_FOR_GREATER_OP_CODES: 127,
};
const OP_NAMES = Object.fromEntries(Object.entries(schema_Op).map(([k, v]) => [v, k]));
function opName(code) {
    return OP_NAMES[code] ?? `builtin operator ${code}`;
}
/** union BuiltinOptions: the type byte of each options table (NONE = 0). */
const schema_Options = {
    NONE: 0, Conv2D: 1, DepthwiseConv2D: 2, Pool2D: 5, FullyConnected: 8, Softmax: 9, Concatenation: 10, Add: 11,
    Reshape: 17, Mul: 21, Pad: 22, Transpose: 26, Reducer: 27, Sub: 28, Squeeze: 30, Dequantize: 38, PadV2: 43, Quantize: 89,
};
const Padding = { SAME: 0, VALID: 1 };
/** enum ActivationFunctionType : byte */
const Activation = { NONE: 0, RELU: 1, RELU_N1_TO_1: 2, RELU6: 3, TANH: 4, SIGN_BIT: 5 };
/**
 * Fields of each options table, in schema order (= vtable slot), with their schema defaults. Options
 * are plain records keyed by these snake_case names, so a reader and a writer share one description.
 */
const schema_OPTION_FIELDS = {
    [schema_Options.Conv2D]: [['padding', 'byte'], ['stride_w', 'int'], ['stride_h', 'int'], ['fused_activation_function', 'byte'], ['dilation_w_factor', 'int', 1], ['dilation_h_factor', 'int', 1], ['quantized_bias_type', 'byte']],
    [schema_Options.DepthwiseConv2D]: [['padding', 'byte'], ['stride_w', 'int'], ['stride_h', 'int'], ['depth_multiplier', 'int'], ['fused_activation_function', 'byte'], ['dilation_w_factor', 'int', 1], ['dilation_h_factor', 'int', 1]],
    [schema_Options.Pool2D]: [['padding', 'byte'], ['stride_w', 'int'], ['stride_h', 'int'], ['filter_width', 'int'], ['filter_height', 'int'], ['fused_activation_function', 'byte']],
    [schema_Options.FullyConnected]: [['fused_activation_function', 'byte'], ['weights_format', 'byte'], ['keep_num_dims', 'bool'], ['asymmetric_quantize_inputs', 'bool'], ['quantized_bias_type', 'byte']],
    [schema_Options.Softmax]: [['beta', 'float']],
    [schema_Options.Concatenation]: [['axis', 'int'], ['fused_activation_function', 'byte']],
    [schema_Options.Add]: [['fused_activation_function', 'byte'], ['pot_scale_int16', 'bool', 1]],
    [schema_Options.Sub]: [['fused_activation_function', 'byte'], ['pot_scale_int16', 'bool', 1]],
    [schema_Options.Mul]: [['fused_activation_function', 'byte']],
    [schema_Options.Reshape]: [['new_shape', 'int[]']],
    [schema_Options.Reducer]: [['keep_dims', 'bool']],
    [schema_Options.Squeeze]: [['squeeze_dims', 'int[]']],
    [schema_Options.Pad]: [],
    [schema_Options.PadV2]: [],
    [schema_Options.Transpose]: [],
    [schema_Options.Dequantize]: [],
    [schema_Options.Quantize]: [],
};
/** The options table each builtin operator carries (ops not listed carry none). */
const schema_OP_OPTIONS = {
    [schema_Op.CONV_2D]: schema_Options.Conv2D, [schema_Op.DEPTHWISE_CONV_2D]: schema_Options.DepthwiseConv2D, [schema_Op.AVERAGE_POOL_2D]: schema_Options.Pool2D,
    [schema_Op.MAX_POOL_2D]: schema_Options.Pool2D, [schema_Op.FULLY_CONNECTED]: schema_Options.FullyConnected, [schema_Op.SOFTMAX]: schema_Options.Softmax,
    [schema_Op.CONCATENATION]: schema_Options.Concatenation, [schema_Op.ADD]: schema_Options.Add, [schema_Op.SUB]: schema_Options.Sub, [schema_Op.MUL]: schema_Options.Mul,
    [schema_Op.RESHAPE]: schema_Options.Reshape, [schema_Op.MEAN]: schema_Options.Reducer, [schema_Op.SQUEEZE]: schema_Options.Squeeze, [schema_Op.PAD]: schema_Options.Pad,
    [schema_Op.PADV2]: schema_Options.PadV2, [schema_Op.TRANSPOSE]: schema_Options.Transpose, [schema_Op.DEQUANTIZE]: schema_Options.Dequantize, [schema_Op.QUANTIZE]: schema_Options.Quantize,
};
/**
 * Vtable slots of the tables the codec walks (schema order; unions count twice).
 *   Model: version, operator_codes, subgraphs, description, buffers, metadata_buffer, metadata, signature_defs
 *   SubGraph: tensors, inputs, outputs, operators, name
 *   Tensor: shape, type, buffer, name, quantization, is_variable, sparsity, shape_signature, has_rank
 *   QuantizationParameters: min, max, scale, zero_point, details_type, details, quantized_dimension
 *   OperatorCode: deprecated_builtin_code, custom_code, version, builtin_code
 *   Operator: opcode_index, inputs, outputs, builtin_options_type, builtin_options, custom_options, custom_options_format, ...
 *   Buffer: data, offset, size
 *   Metadata: name, buffer
 */
const schema_Slot = {
    Model: { version: 0, operator_codes: 1, subgraphs: 2, description: 3, buffers: 4, metadata_buffer: 5, metadata: 6, signature_defs: 7, count: 8 },
    SubGraph: { tensors: 0, inputs: 1, outputs: 2, operators: 3, name: 4, count: 5 },
    Tensor: { shape: 0, type: 1, buffer: 2, name: 3, quantization: 4, is_variable: 5, sparsity: 6, shape_signature: 7, has_rank: 8, count: 9 },
    Quantization: { min: 0, max: 1, scale: 2, zero_point: 3, details_type: 4, details: 5, quantized_dimension: 6, count: 7 },
    OperatorCode: { deprecated_builtin_code: 0, custom_code: 1, version: 2, builtin_code: 3, count: 4 },
    Operator: { opcode_index: 0, inputs: 1, outputs: 2, builtin_options_type: 3, builtin_options: 4, custom_options: 5, custom_options_format: 6, count: 7 },
    Buffer: { data: 0, offset: 1, size: 2, count: 3 },
    Metadata: { name: 0, buffer: 1, count: 2 },
};

;// CONCATENATED MODULE: ./src/export/tflite/flatbuffer.ts
/**
 * An in-memory TFLite model (one main subgraph) and its flatbuffer codec, written against the field order
 * of tensorflow/lite/schema/schema.fbs (see ./schema.ts). The writer and the reader share this IR, so the
 * exporter writes it, the importer and the runtime adapter read it.
 */



// ---------------------------------------------------------------- writer
function intVector(b, values) {
    b.startVector(4, values.length, 4);
    for (let i = values.length - 1; i >= 0; i--)
        b.addInt32(values[i]);
    return b.endVector();
}
function floatVector(b, values) {
    b.startVector(4, values.length, 4);
    for (let i = values.length - 1; i >= 0; i--)
        b.addFloat32(values[i]);
    return b.endVector();
}
function longVector(b, values) {
    b.startVector(8, values.length, 8);
    for (let i = values.length - 1; i >= 0; i--)
        b.addInt64(BigInt(values[i]));
    return b.endVector();
}
function offsetVector(b, offsets) {
    b.startVector(4, offsets.length, 4);
    for (let i = offsets.length - 1; i >= 0; i--)
        b.addOffset(offsets[i]);
    return b.endVector();
}
/** Buffer.data is declared force_align: 16, so that a runtime can use weights in place (mmap). */
function alignedBytes(b, data) {
    // Pad first so that the data (written back to front, right after the length) starts 16-aligned.
    b.prep(16, data.length);
    return b.createByteVector(data);
}
function writeOptions(b, type, options) {
    const fields = OPTION_FIELDS[type];
    if (!fields)
        throw new Error(`options table ${type} is not known to the writer`);
    const vectors = new Map();
    fields.forEach(([name, kind], slot) => {
        const v = options[name];
        if (kind === 'int[]' && Array.isArray(v))
            vectors.set(slot, intVector(b, v));
    });
    b.startObject(fields.length);
    fields.forEach(([name, kind, dflt = 0], slot) => {
        const v = options[name];
        if (v === undefined)
            return;
        switch (kind) {
            case 'byte':
                b.addFieldInt8(slot, Number(v), dflt);
                break;
            case 'bool':
                b.addFieldInt8(slot, v ? 1 : 0, dflt);
                break;
            case 'int':
                b.addFieldInt32(slot, Number(v), dflt);
                break;
            case 'float':
                b.addFieldFloat32(slot, Number(v), dflt);
                break;
            case 'int[]':
                if (vectors.has(slot))
                    b.addFieldOffset(slot, vectors.get(slot), 0);
                break;
        }
    });
    for (const [name] of Object.entries(options)) {
        if (!fields.some(([f]) => f === name))
            throw new Error(`option '${name}' is not a field of options table ${type}`);
    }
    return b.endObject();
}
/** Serializes a model: operator codes are deduplicated by (op, custom code, version), buffer 0 is the empty sentinel. */
function encodeTflite(model) {
    const { graph } = model;
    const bytes = graph.tensors.reduce((s, t) => s + (t.data?.length ?? 0), 0);
    const b = new Builder(Math.max(1024, bytes + 64 * 1024));
    const codes = [];
    const codeIndex = new Map();
    const opcodeOf = graph.operators.map((o) => {
        const key = `${o.op}/${o.custom ?? ''}/${o.version}`;
        let i = codeIndex.get(key);
        if (i === undefined) {
            i = codes.length;
            codes.push(o);
            codeIndex.set(key, i);
        }
        return i;
    });
    // Buffers: 0 = empty sentinel, then one per constant tensor, then one per metadata entry.
    const bufferOffsets = [];
    const emptyBuffer = () => {
        b.startObject(Slot.Buffer.count);
        return b.endObject();
    };
    const dataBuffer = (data) => {
        const vec = alignedBytes(b, data);
        b.startObject(Slot.Buffer.count);
        b.addFieldOffset(Slot.Buffer.data, vec, 0);
        return b.endObject();
    };
    bufferOffsets.push(emptyBuffer());
    const tensorBuffer = graph.tensors.map((t) => {
        if (!t.data)
            return 0;
        bufferOffsets.push(dataBuffer(t.data));
        return bufferOffsets.length - 1;
    });
    const metadataBuffer = model.metadata.map((m) => {
        bufferOffsets.push(dataBuffer(m.data));
        return bufferOffsets.length - 1;
    });
    const tensorOffsets = graph.tensors.map((t, i) => {
        const name = b.createString(t.name);
        const shape = intVector(b, t.shape);
        const signature = t.shapeSignature ? intVector(b, t.shapeSignature) : 0;
        let quant = 0;
        if (t.quantization) {
            const q = t.quantization;
            const min = q.min ? floatVector(b, q.min) : 0;
            const max = q.max ? floatVector(b, q.max) : 0;
            const scale = floatVector(b, q.scale);
            const zp = longVector(b, q.zeroPoint);
            b.startObject(Slot.Quantization.count);
            if (min)
                b.addFieldOffset(Slot.Quantization.min, min, 0);
            if (max)
                b.addFieldOffset(Slot.Quantization.max, max, 0);
            b.addFieldOffset(Slot.Quantization.scale, scale, 0);
            b.addFieldOffset(Slot.Quantization.zero_point, zp, 0);
            b.addFieldInt32(Slot.Quantization.quantized_dimension, q.axis, 0);
            quant = b.endObject();
        }
        b.startObject(Slot.Tensor.count);
        b.addFieldOffset(Slot.Tensor.shape, shape, 0);
        b.addFieldInt8(Slot.Tensor.type, t.type, 0);
        b.addFieldInt32(Slot.Tensor.buffer, tensorBuffer[i], 0);
        b.addFieldOffset(Slot.Tensor.name, name, 0);
        if (quant)
            b.addFieldOffset(Slot.Tensor.quantization, quant, 0);
        if (t.isVariable)
            b.addFieldInt8(Slot.Tensor.is_variable, 1, 0);
        if (signature)
            b.addFieldOffset(Slot.Tensor.shape_signature, signature, 0);
        b.addFieldInt8(Slot.Tensor.has_rank, 1, 0);
        return b.endObject();
    });
    const operatorOffsets = graph.operators.map((o, i) => {
        const inputs = intVector(b, o.inputs);
        const outputs = intVector(b, o.outputs);
        const optionsType = o.optionsType ?? OP_OPTIONS[o.op] ?? Options.NONE;
        const options = optionsType !== Options.NONE && OPTION_FIELDS[optionsType] ? writeOptions(b, optionsType, o.options ?? {}) : 0;
        const custom = o.customOptions ? b.createByteVector(o.customOptions) : 0;
        b.startObject(Slot.Operator.count);
        b.addFieldInt32(Slot.Operator.opcode_index, opcodeOf[i], 0);
        b.addFieldOffset(Slot.Operator.inputs, inputs, 0);
        b.addFieldOffset(Slot.Operator.outputs, outputs, 0);
        if (options) {
            b.addFieldInt8(Slot.Operator.builtin_options_type, optionsType, 0);
            b.addFieldOffset(Slot.Operator.builtin_options, options, 0);
        }
        if (custom)
            b.addFieldOffset(Slot.Operator.custom_options, custom, 0);
        return b.endObject();
    });
    const subgraphName = b.createString(graph.name ?? 'main');
    const tensorsVec = offsetVector(b, tensorOffsets);
    const inputsVec = intVector(b, graph.inputs);
    const outputsVec = intVector(b, graph.outputs);
    const operatorsVec = offsetVector(b, operatorOffsets);
    b.startObject(Slot.SubGraph.count);
    b.addFieldOffset(Slot.SubGraph.tensors, tensorsVec, 0);
    b.addFieldOffset(Slot.SubGraph.inputs, inputsVec, 0);
    b.addFieldOffset(Slot.SubGraph.outputs, outputsVec, 0);
    b.addFieldOffset(Slot.SubGraph.operators, operatorsVec, 0);
    b.addFieldOffset(Slot.SubGraph.name, subgraphName, 0);
    const subgraph = b.endObject();
    const codeOffsets = codes.map((o) => {
        const custom = o.custom !== undefined ? b.createString(o.custom) : 0;
        b.startObject(Slot.OperatorCode.count);
        // Codes past 126 live only in the int32 field; the byte field then holds the placeholder (schema 3a).
        b.addFieldInt8(Slot.OperatorCode.deprecated_builtin_code, Math.min(o.op, Op.PLACEHOLDER_FOR_GREATER_OP_CODES), 0);
        if (custom)
            b.addFieldOffset(Slot.OperatorCode.custom_code, custom, 0);
        b.addFieldInt32(Slot.OperatorCode.version, o.version, 1);
        b.addFieldInt32(Slot.OperatorCode.builtin_code, o.op, 0);
        return b.endObject();
    });
    const metadataOffsets = model.metadata.map((m, i) => {
        const name = b.createString(m.name);
        b.startObject(Slot.Metadata.count);
        b.addFieldOffset(Slot.Metadata.name, name, 0);
        b.addFieldInt32(Slot.Metadata.buffer, metadataBuffer[i], 0);
        return b.endObject();
    });
    const description = b.createString(model.description);
    const codesVec = offsetVector(b, codeOffsets);
    const subgraphsVec = offsetVector(b, [subgraph]);
    const buffersVec = offsetVector(b, bufferOffsets);
    const metadataVec = metadataOffsets.length > 0 ? offsetVector(b, metadataOffsets) : 0;
    b.startObject(Slot.Model.count);
    b.addFieldInt32(Slot.Model.version, SCHEMA_VERSION, 0);
    b.addFieldOffset(Slot.Model.operator_codes, codesVec, 0);
    b.addFieldOffset(Slot.Model.subgraphs, subgraphsVec, 0);
    b.addFieldOffset(Slot.Model.description, description, 0);
    b.addFieldOffset(Slot.Model.buffers, buffersVec, 0);
    if (metadataVec)
        b.addFieldOffset(Slot.Model.metadata, metadataVec, 0);
    b.finish(b.endObject(), FILE_IDENTIFIER);
    return b.asUint8Array().slice();
}
// ---------------------------------------------------------------- reader
/** A table position plus the generic accessors generated code would have. */
class Table {
    bb;
    pos;
    constructor(bb, pos) {
        this.bb = bb;
        this.pos = pos;
    }
    field(slot) {
        return this.bb.__offset(this.pos, 4 + 2 * slot);
    }
    has(slot) {
        return this.field(slot) !== 0;
    }
    int8(slot, dflt = 0) {
        const o = this.field(slot);
        return o ? this.bb.readInt8(this.pos + o) : dflt;
    }
    uint8(slot, dflt = 0) {
        const o = this.field(slot);
        return o ? this.bb.readUint8(this.pos + o) : dflt;
    }
    int32(slot, dflt = 0) {
        const o = this.field(slot);
        return o ? this.bb.readInt32(this.pos + o) : dflt;
    }
    uint32(slot, dflt = 0) {
        const o = this.field(slot);
        return o ? this.bb.readUint32(this.pos + o) : dflt;
    }
    float32(slot, dflt = 0) {
        const o = this.field(slot);
        return o ? this.bb.readFloat32(this.pos + o) : dflt;
    }
    string(slot) {
        const o = this.field(slot);
        return o ? this.bb.__string(this.pos + o) : undefined;
    }
    table(slot) {
        const o = this.field(slot);
        return o ? new Table(this.bb, this.bb.__indirect(this.pos + o)) : undefined;
    }
    vector(slot) {
        const o = this.field(slot);
        if (!o)
            return undefined;
        return { start: this.bb.__vector(this.pos + o), length: this.bb.__vector_len(this.pos + o) };
    }
    tables(slot) {
        const v = this.vector(slot);
        if (!v)
            return [];
        return Array.from({ length: v.length }, (_, i) => new Table(this.bb, this.bb.__indirect(v.start + 4 * i)));
    }
    ints(slot) {
        const v = this.vector(slot);
        return v ? Array.from({ length: v.length }, (_, i) => this.bb.readInt32(v.start + 4 * i)) : undefined;
    }
    floats(slot) {
        const v = this.vector(slot);
        return v ? Array.from({ length: v.length }, (_, i) => this.bb.readFloat32(v.start + 4 * i)) : undefined;
    }
    longs(slot) {
        const v = this.vector(slot);
        return v ? Array.from({ length: v.length }, (_, i) => Number(this.bb.readInt64(v.start + 8 * i))) : undefined;
    }
    bytes(slot) {
        const v = this.vector(slot);
        return v ? this.bb.bytes().subarray(v.start, v.start + v.length) : undefined;
    }
}
function readOptions(t, type) {
    const fields = schema_OPTION_FIELDS[type];
    if (!fields)
        return undefined;
    const out = {};
    fields.forEach(([name, kind, dflt = 0], slot) => {
        switch (kind) {
            case 'byte':
                out[name] = t.int8(slot, dflt);
                break;
            case 'bool':
                out[name] = t.uint8(slot, dflt) !== 0;
                break;
            case 'int':
                out[name] = t.int32(slot, dflt);
                break;
            case 'float':
                out[name] = t.float32(slot, dflt);
                break;
            case 'int[]': {
                const v = t.ints(slot);
                if (v)
                    out[name] = v;
                break;
            }
        }
    });
    return out;
}
/**
 * Parses a .tflite file. Tensor data is copied out of the file (so the model outlives the bytes). Files
 * over 2 GiB keep weights outside the flatbuffer (Buffer.offset/size), which this reader resolves too.
 */
function decodeTflite(input, file = '<memory>') {
    // A plain view: Node's Buffer.slice shares memory, and tensor data must be real copies.
    const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    if (bytes.length < 8)
        throw new errors_ModelGateError(`${file}: not a TFLite model (${bytes.length} bytes)`);
    const bb = new flatbuffers/* ByteBuffer */.$F(bytes);
    if (!bb.__has_identifier(schema_FILE_IDENTIFIER)) {
        throw new errors_ModelGateError(`${file}: not a TFLite model (no "${schema_FILE_IDENTIFIER}" file identifier at bytes 4..7)`);
    }
    try {
        const root = new Table(bb, bb.readInt32(bb.position()) + bb.position());
        const buffers = root.tables(schema_Slot.Model.buffers).map((t) => {
            const data = t.bytes(schema_Slot.Buffer.data);
            if (data && data.length > 0)
                return data.slice();
            const o = Number(t.has(schema_Slot.Buffer.offset) ? bb.readUint64(t.pos + bb.__offset(t.pos, 4 + 2 * schema_Slot.Buffer.offset)) : 0n);
            const n = Number(t.has(schema_Slot.Buffer.size) ? bb.readUint64(t.pos + bb.__offset(t.pos, 4 + 2 * schema_Slot.Buffer.size)) : 0n);
            return o > 1 && n > 0 ? bytes.slice(o, o + n) : undefined;
        });
        const codes = root.tables(schema_Slot.Model.operator_codes).map((t) => {
            const deprecated = t.int8(schema_Slot.OperatorCode.deprecated_builtin_code);
            const extended = t.int32(schema_Slot.OperatorCode.builtin_code);
            return { op: Math.max(deprecated, extended), custom: t.string(schema_Slot.OperatorCode.custom_code), version: t.int32(schema_Slot.OperatorCode.version, 1) };
        });
        const subgraphs = root.tables(schema_Slot.Model.subgraphs);
        if (subgraphs.length === 0)
            throw new errors_ModelGateError(`${file}: the model has no subgraph`);
        const sg = subgraphs[0];
        const tensors = sg.tables(schema_Slot.SubGraph.tensors).map((t, i) => {
            const type = t.int8(schema_Slot.Tensor.type);
            const tensor = { name: t.string(schema_Slot.Tensor.name) ?? `tensor_${i}`, type, shape: t.ints(schema_Slot.Tensor.shape) ?? [] };
            const signature = t.ints(schema_Slot.Tensor.shape_signature);
            if (signature)
                tensor.shapeSignature = signature;
            const data = buffers[t.uint32(schema_Slot.Tensor.buffer)];
            if (data && data.length > 0)
                tensor.data = data;
            const q = t.table(schema_Slot.Tensor.quantization);
            const scale = q?.floats(schema_Slot.Quantization.scale);
            if (q && scale && scale.length > 0) {
                tensor.quantization = {
                    scale,
                    zeroPoint: q.longs(schema_Slot.Quantization.zero_point) ?? scale.map(() => 0),
                    axis: q.int32(schema_Slot.Quantization.quantized_dimension),
                };
                const min = q.floats(schema_Slot.Quantization.min);
                const max = q.floats(schema_Slot.Quantization.max);
                if (min)
                    tensor.quantization.min = min;
                if (max)
                    tensor.quantization.max = max;
            }
            if (t.uint8(schema_Slot.Tensor.is_variable))
                tensor.isVariable = true;
            if (t.has(schema_Slot.Tensor.sparsity))
                tensor.sparse = true;
            return tensor;
        });
        const operators = sg.tables(schema_Slot.SubGraph.operators).map((t) => {
            const code = codes[t.uint32(schema_Slot.Operator.opcode_index)];
            if (!code)
                throw new errors_ModelGateError(`${file}: an operator points at operator code ${t.uint32(schema_Slot.Operator.opcode_index)}, which does not exist`);
            const op = { op: code.op, version: code.version, inputs: t.ints(schema_Slot.Operator.inputs) ?? [], outputs: t.ints(schema_Slot.Operator.outputs) ?? [] };
            if (code.custom !== undefined)
                op.custom = code.custom;
            const optionsType = t.uint8(schema_Slot.Operator.builtin_options_type);
            const optionsTable = t.table(schema_Slot.Operator.builtin_options);
            if (optionsType !== schema_Options.NONE && optionsTable) {
                op.optionsType = optionsType;
                const options = readOptions(optionsTable, optionsType);
                if (options)
                    op.options = options;
            }
            const custom = t.bytes(schema_Slot.Operator.custom_options);
            if (custom)
                op.customOptions = custom.slice();
            return op;
        });
        const metadata = root.tables(schema_Slot.Model.metadata).map((t) => ({ name: t.string(schema_Slot.Metadata.name) ?? '', data: buffers[t.uint32(schema_Slot.Metadata.buffer)] ?? new Uint8Array() }));
        return {
            description: root.string(schema_Slot.Model.description) ?? '',
            graph: { name: sg.string(schema_Slot.SubGraph.name), tensors, inputs: sg.ints(schema_Slot.SubGraph.inputs) ?? [], outputs: sg.ints(schema_Slot.SubGraph.outputs) ?? [], operators },
            extraSubgraphs: subgraphs.length - 1,
            metadata,
        };
    }
    catch (err) {
        if (err instanceof errors_ModelGateError)
            throw err;
        throw new errors_ModelGateError(`${file}: the TFLite flatbuffer is malformed (${err instanceof Error ? err.message : String(err)})`, { cause: err });
    }
}
/** "CONV_2D" for builtins, "custom op 'edgetpu-custom-op'" for custom ones. */
function describeOperator(o) {
    return o.op === schema_Op.CUSTOM ? `custom op '${o.custom ?? ''}'` : opName(o.op);
}
function tensorTypeName(type) {
    return TENSOR_TYPE_NAMES[type] ?? `type ${type}`;
}
function elementCount(shape) {
    return shape.reduce((a, b) => a * b, 1);
}
/** A tensor's constant data as numbers (float16 decoded), for the types that can hold weights. */
function tensorValues(t) {
    const data = t.data;
    if (!data)
        throw new Error(`tensor '${t.name}' has no data`);
    const n = elementCount(t.shape);
    const size = TENSOR_TYPE_BYTES[t.type];
    if (size === undefined)
        throw new ModelGateError(`tensor '${t.name}': ${tensorTypeName(t.type)} constants are not supported`);
    if (data.length < n * size)
        throw new ModelGateError(`tensor '${t.name}': ${data.length} bytes of data for ${n} elements of ${tensorTypeName(t.type)}`);
    // Copy to an aligned buffer: flatbuffer data need not be aligned to the element size in a slice.
    const copy = Uint8Array.prototype.slice.call(data, 0, n * size).buffer;
    switch (t.type) {
        case 0: return new Float32Array(copy);
        case 1: return new Uint16Array(copy);
        case 2: return new Int32Array(copy);
        case 3:
        case 6: return new Uint8Array(copy);
        case 4: return new BigInt64Array(copy);
        case 7: return new Int16Array(copy);
        case 9: return new Int8Array(copy);
        case 10: return new Float64Array(copy);
        default: throw new ModelGateError(`tensor '${t.name}': ${tensorTypeName(t.type)} constants are not supported`);
    }
}

;// CONCATENATED MODULE: external "node:crypto"
const external_node_crypto_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:crypto");
;// CONCATENATED MODULE: ./src/runtime/tflite-xnnpack.ts
/**
 * XNNPACK for the TFLite runtime, through the one delegate hook tfjs-tflite-node has.
 *
 * The shipped libtensorflowlite_c exports TfLiteXNNPackDelegateCreate but does not apply it by default, and
 * the addon cannot call it; it can only load an "external delegate": a shared library that exports
 * tflite_plugin_create_delegate / tflite_plugin_destroy_delegate (TFLite's external delegate plugin ABI).
 * So ModelGate compiles a 30-line plugin that forwards to TfLiteXNNPackDelegateCreate, once per machine, with
 * the C compiler that built the addon, into a cache folder. The options struct is passed zero-filled (every
 * option off, which is each field's safe value) with num_threads and flags set; flags = QS8 | QU8 (1 | 2)
 * lets XNNPACK run int8 and uint8 operators too. Where no compiler is found the runtime reports XNNPACK as
 * unavailable and runs TFLite's builtin kernels.
 */






const XNNPACK_FLAGS_QS8_QU8 = 3;
const PLUGIN_SOURCE = `#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
typedef struct TfLiteDelegate TfLiteDelegate;
extern TfLiteDelegate* TfLiteXNNPackDelegateCreate(const void* options);
extern void TfLiteXNNPackDelegateDelete(TfLiteDelegate* delegate);
/* TfLiteXNNPackDelegateOptions starts with int32 num_threads, uint32 flags; the rest is left zero. */
TfLiteDelegate* tflite_plugin_create_delegate(char** keys, char** values, size_t n, void (*report_error)(const char*)) {
  uint64_t options[64];
  int32_t threads = 1;
  uint32_t flags = 0;
  size_t i;
  memset(options, 0, sizeof options);
  for (i = 0; i < n; i++) {
    if (strcmp(keys[i], "num_threads") == 0) threads = atoi(values[i]);
    if (strcmp(keys[i], "flags") == 0) flags = (uint32_t)strtoul(values[i], NULL, 10);
  }
  ((int32_t*)options)[0] = threads;
  ((uint32_t*)options)[1] = flags;
  TfLiteDelegate* d = TfLiteXNNPackDelegateCreate(options);
  if (!d && report_error) report_error("TfLiteXNNPackDelegateCreate failed");
  return d;
}
void tflite_plugin_destroy_delegate(TfLiteDelegate* d) { TfLiteXNNPackDelegateDelete(d); }
`;
const cache = new Map();
function cacheDir() {
    const base = process.env.MODELGATE_CACHE || process.env.RUNNER_TOOL_CACHE || external_node_path_default().join(external_node_os_default().homedir(), '.cache');
    return external_node_path_default().join(base, 'modelgate');
}
/** The cc_deps folder of tfjs-tflite-node that holds libtensorflowlite_c for this platform. */
function libraryDir(packageDir) {
    if (process.platform === 'linux' && process.arch === 'x64')
        return { dir: external_node_path_default().join(packageDir, 'cc_deps', 'linux_amd64'), lib: 'libtensorflowlite_c.so' };
    if (process.platform === 'linux' && process.arch === 'arm64')
        return { dir: external_node_path_default().join(packageDir, 'cc_deps', 'linux_arm64'), lib: 'libtensorflowlite_c.so' };
    if (process.platform === 'darwin' && process.arch === 'arm64')
        return { dir: external_node_path_default().join(packageDir, 'cc_deps', 'darwin_arm64'), lib: 'libtensorflowlite_c.dylib' };
    return undefined;
}
/**
 * The plugin's path, compiling it on first use (cached by source and library path), or why it cannot be had.
 * Never throws: XNNPACK is an accelerator, and its absence is reported, not fatal.
 */
function xnnpackPlugin(packageDir) {
    const known = cache.get(packageDir);
    if (known)
        return known;
    const result = build(packageDir);
    cache.set(packageDir, result);
    return result;
}
function build(packageDir) {
    const lib = libraryDir(packageDir);
    if (!lib)
        return { unavailable: `no XNNPACK plugin build for ${process.platform}-${process.arch}` };
    if (!(0,external_node_fs_namespaceObject.existsSync)(external_node_path_default().join(lib.dir, lib.lib)))
        return { unavailable: `${lib.lib} not found in ${lib.dir}` };
    const ext = process.platform === 'darwin' ? 'dylib' : 'so';
    const hash = (0,external_node_crypto_namespaceObject.createHash)('sha256').update(PLUGIN_SOURCE).update(external_node_path_default().resolve(lib.dir)).digest('hex').slice(0, 16);
    const dir = cacheDir();
    const out = external_node_path_default().join(dir, `tflite-xnnpack-plugin-${hash}.${ext}`);
    if ((0,external_node_fs_namespaceObject.existsSync)(out))
        return { path: out };
    const compilers = [process.env.CC, 'cc', 'gcc', 'clang'].filter((c) => !!c);
    const errors = [];
    try {
        (0,external_node_fs_namespaceObject.mkdirSync)(dir, { recursive: true });
        const src = external_node_path_default().join(dir, `tflite-xnnpack-plugin-${hash}.${process.pid}.c`); // per process: test workers may build at once
        (0,external_node_fs_namespaceObject.writeFileSync)(src, PLUGIN_SOURCE);
        const tmp = `${out}.${process.pid}.tmp`;
        const linkLib = process.platform === 'darwin' ? [external_node_path_default().join(lib.dir, lib.lib)] : [`-L${lib.dir}`, `-l:${lib.lib}`];
        const flags = process.platform === 'darwin' ? ['-dynamiclib', `-Wl,-rpath,${lib.dir}`] : ['-shared', '-fPIC', `-Wl,-rpath,${lib.dir}`];
        for (const cc of compilers) {
            try {
                (0,external_node_child_process_namespaceObject.execFileSync)(cc, ['-O2', ...flags, '-o', tmp, src, ...linkLib], { stdio: ['ignore', 'ignore', 'pipe'] });
                (0,external_node_fs_namespaceObject.renameSync)(tmp, out); // atomic: parallel workers never load a half-written file
                (0,external_node_fs_namespaceObject.rmSync)(src, { force: true });
                return { path: out };
            }
            catch (err) {
                errors.push(`${cc}: ${errorMessage(err).split('\n')[0]}`);
            }
        }
    }
    catch (err) {
        errors.push(errorMessage(err));
    }
    return { unavailable: `no C compiler could build the XNNPACK delegate plugin (${errors.join('; ')})` };
}

;// CONCATENATED MODULE: ./src/runtime/tflite.ts
/**
 * The TensorFlow Lite runtime: .tflite models run by the real TFLite C library in Node.
 *
 * Which binding, and why: ModelGate uses the node-gyp addon of the npm package tfjs-tflite-node (0.0.2),
 * which links the libtensorflowlite_c it ships for linux x64/arm64, darwin arm64 and win32 x64. We load
 * the addon file directly (not the package's JS, which pulls in tfjs-core) and fill its gaps here:
 *   - num_threads: the addon passes `threads` to TfLiteInterpreterOptionsSetNumThreads. Used as is.
 *   - int8/uint8 I/O: the addon exposes raw typed arrays but no quantization parameters, so the scale and
 *     zero point of each I/O tensor are read from the model's own flatbuffer (../export/tflite/flatbuffer.ts).
 *   - XNNPACK: the shipped library exports TfLiteXNNPackDelegateCreate but does not apply it by default (under
 *     gdb, TfLiteInterpreterCreate is hit and TfLiteXNNPackDelegateCreate never is), and the addon's only
 *     delegate hook loads an external delegate library by path. ./tflite-xnnpack.ts builds that library (a
 *     30-line C plugin forwarding to TfLiteXNNPackDelegateCreate) once per machine; with it, XNNPACK runs
 *     float and int8 ops with the interpreter's thread count. Without a C compiler the report says
 *     'unavailable' and the figures are TFLite's builtin kernels (ruy/gemmlowp).
 *   - Fixed shapes: the addon does not expose TfLiteInterpreterResizeInputTensor, so a model runs at the
 *     batch its file declares; the exporter writes the batch the config asks for.
 * A binding of our own over the same C API (TfLiteInterpreterResizeInputTensor, TfLiteXNNPackDelegateCreate and
 * TfLiteTensorQuantizationParams are all exported by the shipped library) would close the gaps more directly,
 * at the price of a second N-API addon to build and maintain on four platforms. With the quantization
 * parameters read from the flatbuffer and XNNPACK through the plugin, only resizing is missing, so the
 * package is used as is.
 */






// webpack (ncc) rewrites `createRequire`; process.getBuiltinModule keeps a real one.
const { createRequire: tflite_createRequire } = process.getBuiltinModule('node:module');
const TFLITE_PACKAGE = 'tfjs-tflite-node';
const TFLITE_PACKAGE_VERSION = '0.0.2';
/** Platforms for which tfjs-tflite-node ships libtensorflowlite_c. */
const TFLITE_PLATFORMS = ['linux-x64', 'linux-arm64', 'darwin-arm64', 'win32-x64'];
let cachedAddon;
let cachedPackageDir = '';
function packageDirFrom(from) {
    try {
        return external_node_path_default().dirname(tflite_createRequire(from).resolve(`${TFLITE_PACKAGE}/package.json`));
    }
    catch {
        return undefined;
    }
}
/**
 * Loads the addon, or stops with an error that says what is missing: the platform, the package, or its
 * native build (which needs python3, make and a C++ compiler at `npm ci` time).
 */
function loadTfliteAddon() {
    if (cachedAddon)
        return cachedAddon;
    const platform = `${process.platform}-${process.arch}`;
    if (!TFLITE_PLATFORMS.includes(platform)) {
        throw new errors_ModelGateError(`the TFLite runtime is not available on ${platform}: ${TFLITE_PACKAGE} ships libtensorflowlite_c only for ${TFLITE_PLATFORMS.join(', ')}`);
    }
    const froms = [
        ...(process.env.MODELGATE_TFLITE_PATH ? [external_node_path_default().join(external_node_path_default().resolve(process.env.MODELGATE_TFLITE_PATH), 'x.js')] : []),
        import.meta.url,
        external_node_path_default().join(process.cwd(), 'x.js'),
    ];
    let dir;
    for (const from of froms)
        if ((dir = packageDirFrom(from)))
            break;
    if (!dir) {
        throw new errors_ModelGateError(`the TFLite runtime is not installed: the npm package ${TFLITE_PACKAGE}@${TFLITE_PACKAGE_VERSION} was not found ` +
            `(install it beside modelgate, or set MODELGATE_TFLITE_PATH to a folder whose node_modules has it)`);
    }
    const binding = tfliteBindingPath(dir);
    try {
        cachedAddon = tflite_createRequire(import.meta.url)(binding);
        cachedPackageDir = dir;
    }
    catch (err) {
        throw new errors_ModelGateError(`the TFLite runtime failed to load (${binding}): ${errorMessage(err)}`, { cause: err });
    }
    return cachedAddon;
}
/** The addon inside an installed tfjs-tflite-node, or an error saying what its build needs. */
function tfliteBindingPath(packageDir) {
    const binding = external_node_path_default().join(packageDir, 'build', 'Release', 'node_tflite_binding.node');
    if (!(0,external_node_fs_namespaceObject.existsSync)(binding)) {
        throw new errors_ModelGateError(`the TFLite runtime is not built: ${TFLITE_PACKAGE} is installed at ${packageDir} but its native addon ${external_node_path_default().relative(packageDir, binding)} is missing. ` +
            `Its install script (node-gyp rebuild) needs python3, make and a C++ compiler (Debian/Ubuntu: apt-get install g++ make), ` +
            `and npm must be allowed to run it (package.json allowScripts); then run: npm rebuild ${TFLITE_PACKAGE}`);
    }
    return binding;
}
/** The session config entry that carries the XNNPACK choice with a candidate ('1' on, '0' off, absent = auto). */
const XNNPACK_ENTRY = 'tflite.xnnpack';
/** TFLite options from the runtime options a candidate carries: intraOpThreads = threads, configEntries['tflite.xnnpack']. */
function tfliteOptionsFrom(runtime) {
    const x = runtime.configEntries?.[XNNPACK_ENTRY];
    return { threads: runtime.intraOpThreads ?? 1, xnnpack: x === '1' ? true : x === '0' ? false : 'auto' };
}
function perTensorQuant(q) {
    if (!q || q.scale.length !== 1)
        return undefined;
    return { scale: q.scale[0], zeroPoint: q.zeroPoint[0] ?? 0 };
}
const Q_RANGE = { int8: [-128, 127], uint8: [0, 255], int16: [-32768, 32767] };
/** TFLite rounds half away from zero when it quantizes (std::round in its reference kernels). */
function roundAway(v) {
    return v < 0 ? -Math.round(-v) : Math.round(v);
}
function quantizeInto(dst, src, scale, zeroPoint, type) {
    const [lo, hi] = Q_RANGE[type];
    for (let i = 0; i < dst.length; i++) {
        const q = roundAway(src[i] / scale) + zeroPoint;
        dst[i] = q < lo ? lo : q > hi ? hi : q;
    }
}
function dequantize(src, scale, zeroPoint) {
    const out = new Float32Array(src.length);
    for (let i = 0; i < src.length; i++)
        out[i] = (src[i] - zeroPoint) * scale;
    return out;
}
/**
 * One TFLite interpreter over HostTensors, shaped like OrtSession (inputNames, outputNames, run) so that
 * evaluation and the benchmark worker treat both runtimes alike. Feeds are float (quantized here for
 * int8/uint8 inputs) or already of the tensor's type; int8/uint8 outputs come back dequantized to float32.
 */
class TfliteSession {
    interpreter;
    inputTensors;
    outputTensors;
    model;
    label;
    inputs;
    outputs;
    info;
    released = false;
    constructor(interpreter, inputTensors, outputTensors, model, label, threads) {
        this.interpreter = interpreter;
        this.inputTensors = inputTensors;
        this.outputTensors = outputTensors;
        this.model = model;
        this.label = label;
        const io = (t, index) => {
            const q = perTensorQuant(model.graph.tensors[index]?.quantization);
            return { name: t.name, type: t.dataType, dims: t.shape === '' ? [] : t.shape.split(',').map(Number), ...(q && t.dataType !== 'float32' ? { quantization: q } : {}) };
        };
        this.inputs = inputTensors.map((t, i) => io(t, model.graph.inputs[i]));
        this.outputs = outputTensors.map((t, i) => io(t, model.graph.outputs[i]));
        this.info = { runtime: 'tflite', binding: `${TFLITE_PACKAGE}@${TFLITE_PACKAGE_VERSION}`, threads, xnnpack: 'off' };
    }
    static async create(model, options = {}, label = typeof model === 'string' ? model : '<memory>') {
        const addon = loadTfliteAddon();
        let bytes;
        try {
            bytes = typeof model === 'string' ? (0,external_node_fs_namespaceObject.readFileSync)(model) : model;
        }
        catch (err) {
            throw new errors_ModelGateError(`${label}: cannot read the TFLite model (${errorMessage(err)})`, { cause: err });
        }
        const parsed = decodeTflite(bytes, label);
        const custom = parsed.graph.operators.filter((o) => o.op === schema_Op.CUSTOM);
        if (custom.length > 0) {
            const names = [...new Set(custom.map(describeOperator))].join(', ');
            throw new errors_ModelGateError(`${label}: the model uses ${names}, which the TFLite runtime does not have (custom ops need the runtime they were built for; an Edge TPU-compiled model runs only with the Edge TPU delegate)`);
        }
        const threads = Math.max(1, Math.floor(options.threads ?? 1));
        const addonOptions = { threads };
        let xnnpack = 'off';
        let xnnpackNote;
        if ((options.xnnpack ?? 'auto') !== false) {
            const plugin = xnnpackPlugin(cachedPackageDir);
            if ('path' in plugin) {
                addonOptions.delegate = { path: plugin.path, options: [['num_threads', String(threads)], ['flags', String(XNNPACK_FLAGS_QS8_QU8)]] };
                xnnpack = 'applied';
            }
            else if (options.xnnpack === true) {
                throw new errors_ModelGateError(`${label}: XNNPACK was requested but is not available: ${plugin.unavailable}`);
            }
            else {
                xnnpack = 'unavailable';
                xnnpackNote = plugin.unavailable;
            }
        }
        // The addon keeps its own copy of the bytes; hand it an exact ArrayBuffer, not a view's backing store.
        const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
        let interpreter;
        try {
            interpreter = new addon.Interpreter(buffer, addonOptions);
        }
        catch (err) {
            throw new errors_ModelGateError(`${label}: TFLite could not load the model: ${errorMessage(err).trim()}`, { cause: err });
        }
        const session = new TfliteSession(interpreter, interpreter.getInputs(), interpreter.getOutputs(), parsed, label, threads);
        session.info.xnnpack = xnnpack;
        if (xnnpackNote)
            session.info.xnnpack_note = xnnpackNote;
        return session;
    }
    get inputNames() {
        return this.inputs.map((i) => i.name);
    }
    get outputNames() {
        return this.outputs.map((o) => o.name);
    }
    /** Copies (and quantizes, for int8/uint8 inputs) the feeds into the interpreter's input tensors. */
    setInputs(feeds) {
        this.inputTensors.forEach((t, i) => {
            const io = this.inputs[i];
            const feed = feeds[io.name] ?? (this.inputTensors.length === 1 && Object.keys(feeds).length === 1 ? Object.values(feeds)[0] : undefined);
            if (!feed)
                throw new errors_ModelGateError(`${this.label}: no feed for TFLite input '${io.name}' (feeds: ${Object.keys(feeds).join(', ') || 'none'})`);
            const dst = t.data();
            if (feed.data.length !== dst.length) {
                throw new errors_ModelGateError(`${this.label}: input '${io.name}' takes ${dst.length} values [${io.dims.join(', ')}] (a .tflite has a fixed batch), the feed has ${feed.data.length} [${feed.dims.join(', ')}]`);
            }
            if (feed.type === io.type) {
                dst.set(feed.data);
            }
            else if (io.quantization && (io.type === 'int8' || io.type === 'uint8' || io.type === 'int16') && (feed.type === 'float32' || feed.type === 'float64')) {
                quantizeInto(dst, feed.data, io.quantization.scale, io.quantization.zeroPoint, io.type);
            }
            else if (io.type === 'float32' && feed.type !== 'int64' && feed.type !== 'uint64') {
                dst.set(feed.data);
            }
            else {
                throw new errors_ModelGateError(`${this.label}: input '${io.name}' is ${io.type}${io.quantization ? ' (quantized)' : ''}, the feed is ${feed.type}`);
            }
        });
    }
    /** One inference on the inputs already set: the benchmark loop's path (no conversion per call). */
    invoke() {
        if (this.released)
            throw new errors_ModelGateError(`${this.label}: the TFLite session was released`);
        try {
            this.interpreter.infer();
        }
        catch (err) {
            throw new errors_ModelGateError(`${this.label}: TFLite inference failed: ${errorMessage(err).trim()}`, { cause: err });
        }
    }
    /** Outputs of the last invoke: int8/uint8 tensors dequantized to float32 unless `raw`. */
    getOutputs(outputNames, raw = false) {
        const out = {};
        this.outputTensors.forEach((t, i) => {
            const io = this.outputs[i];
            if (outputNames && !outputNames.includes(io.name))
                return;
            const data = t.data();
            if (io.quantization && !raw) {
                out[io.name] = { type: 'float32', dims: [...io.dims], data: dequantize(data, io.quantization.scale, io.quantization.zeroPoint) };
            }
            else {
                const type = (io.type.startsWith('kTfLite') ? 'uint8' : io.type);
                out[io.name] = { type, dims: [...io.dims], data: data.slice() };
            }
        });
        if (outputNames) {
            for (const name of outputNames)
                if (!out[name])
                    throw new errors_ModelGateError(`${this.label}: the TFLite model has no output '${name}' (it has ${this.outputNames.join(', ')})`);
        }
        return out;
    }
    async run(feeds, outputNames) {
        this.setInputs(feeds);
        this.invoke();
        return this.getOutputs(outputNames);
    }
    /** The addon frees the interpreter when it is garbage-collected; after release this session refuses to run. */
    async release() {
        this.released = true;
    }
}

;// CONCATENATED MODULE: ./src/benchmark/worker.ts



// TFLite (issue 7): a worker forked with argv[2] = 'tflite' owns one TFLite interpreter instead of an ORT session.

const workerKind = process.argv[2] === 'tflite' ? 'tflite' : 'onnxruntime';
let tflite;
let session;
let ortFeeds;
let label = '<model>';
function send(reply) {
    process.send(reply);
}
const elapsedMs = (since) => Number(process.hrtime.bigint() - since) / 1e6;
async function load(req) {
    label = req.label;
    if (req.runtimeKind === 'tflite')
        return loadTflite(req);
    const requested = req.runtime.executionProviders ?? ['cpu'];
    let executionProviders = requested;
    let fallbackReason;
    let start = process.hrtime.bigint();
    try {
        session = await OrtSession.create(req.modelPath, req.runtime, label);
    }
    catch (err) {
        if (requested.length === 1 && requested[0] === 'cpu')
            throw err;
        fallbackReason = `execution providers [${requested.join(', ')}] failed (${errorMessage(err)}); measured on cpu`;
        executionProviders = ['cpu'];
        start = process.hrtime.bigint(); // the failed attempt is not part of the cold start
        session = await OrtSession.create(req.modelPath, { ...req.runtime, executionProviders }, label);
    }
    const createMs = elapsedMs(start);
    ortFeeds = session.toOrtFeeds(req.feeds);
    const firstRunStart = process.hrtime.bigint();
    await runOnce();
    const firstRunMs = elapsedMs(firstRunStart);
    send({
        type: 'loaded', createMs, firstRunMs, coldStartMs: createMs + firstRunMs, executionProviders,
        ...(fallbackReason ? { fallbackReason } : {}),
        inputNames: [...session.inputNames], outputNames: [...session.outputNames],
    });
}
async function runOnce() {
    try {
        await session.runOrt(ortFeeds);
    }
    catch (err) {
        throw new Error(`${label}: inference failed: ${errorMessage(err)}`);
    }
}
// TFLite (issue 7): the feeds are copied (and quantized, for int8 inputs) into the interpreter once; the
// timed region is the synchronous invoke and nothing else.
async function loadTflite(req) {
    const start = process.hrtime.bigint();
    tflite = await TfliteSession.create(req.modelPath, tfliteOptionsFrom(req.runtime), label);
    const createMs = elapsedMs(start);
    tflite.setInputs(req.feeds);
    const firstRunStart = process.hrtime.bigint();
    tflite.invoke();
    const firstRunMs = elapsedMs(firstRunStart);
    send({
        type: 'loaded', createMs, firstRunMs, coldStartMs: createMs + firstRunMs, executionProviders: ['cpu'],
        inputNames: [...tflite.inputNames], outputNames: [...tflite.outputNames],
    });
}
function runTflite(s, iterations) {
    const durationsMs = new Float64Array(iterations);
    for (let i = 0; i < iterations; i++) {
        const t0 = process.hrtime.bigint();
        s.invoke();
        durationsMs[i] = Number(process.hrtime.bigint() - t0) / 1e6;
    }
    send({ type: 'ran', durationsMs, peakRssBytes: process.resourceUsage().maxRSS * 1024 });
}
async function run(iterations) {
    if (tflite)
        return runTflite(tflite, iterations);
    if (!session || !ortFeeds)
        throw new Error('run before load');
    const durationsMs = new Float64Array(iterations);
    const s = session;
    const feeds = ortFeeds;
    // The timed region is the awaited run and nothing else: no conversion, no allocation of ours.
    try {
        for (let i = 0; i < iterations; i++) {
            const t0 = process.hrtime.bigint();
            await s.runOrt(feeds);
            durationsMs[i] = Number(process.hrtime.bigint() - t0) / 1e6;
        }
    }
    catch (err) {
        throw new Error(`${label}: inference failed: ${errorMessage(err)}`);
    }
    send({ type: 'ran', durationsMs, peakRssBytes: process.resourceUsage().maxRSS * 1024 });
}
async function handle(req) {
    switch (req.type) {
        case 'load':
            return load(req);
        case 'run':
            return run(req.iterations);
        case 'exit':
            await session?.release();
            await tflite?.release();
            process.exit(0);
    }
}
if (!process.send) {
    process.stderr.write('modelgate benchmark worker: start me with child_process.fork\n');
    process.exit(2);
}
// An orphaned worker would keep its threads spinning on a shared runner: leave with the parent.
process.on('disconnect', () => process.exit(0));
process.on('message', (req) => {
    handle(req).catch((err) => send({ type: 'error', message: errorMessage(err) }));
});
// Loading the runtime's native library is a per-process cost, paid before 'ready' so that it is not
// counted in any model's cold start.
try {
    if (workerKind === 'tflite') {
        loadTfliteAddon();
        send({ type: 'ready', onnxruntime: '', runtime: `${TFLITE_PACKAGE}@${TFLITE_PACKAGE_VERSION}` });
    }
    else {
        const ort = loadOrt();
        send({ type: 'ready', onnxruntime: ort.env.versions?.node ?? ORT_VERSION });
    }
}
catch (err) {
    send({ type: 'error', message: errorMessage(err) });
}

;// CONCATENATED MODULE: ./build/ncc/worker.ts



package dev.vnet.vhostuser;

/**
 * vhost-user protocol numbers (QEMU {@code docs/interop/vhost-user.rst}), in one place. Only the
 * requests this back-end understands have handlers; the rest have names for the log.
 */
public final class VhostUser {

    // ---- front-end requests
    public static final int GET_FEATURES = 1;
    public static final int SET_FEATURES = 2;
    public static final int SET_OWNER = 3;
    public static final int RESET_OWNER = 4;
    public static final int SET_MEM_TABLE = 5;
    public static final int SET_LOG_BASE = 6;
    public static final int SET_LOG_FD = 7;
    public static final int SET_VRING_NUM = 8;
    public static final int SET_VRING_ADDR = 9;
    public static final int SET_VRING_BASE = 10;
    public static final int GET_VRING_BASE = 11;
    public static final int SET_VRING_KICK = 12;
    public static final int SET_VRING_CALL = 13;
    public static final int SET_VRING_ERR = 14;
    public static final int GET_PROTOCOL_FEATURES = 15;
    public static final int SET_PROTOCOL_FEATURES = 16;
    public static final int GET_QUEUE_NUM = 17;
    public static final int SET_VRING_ENABLE = 18;
    public static final int SEND_RARP = 19;
    public static final int NET_SET_MTU = 20;
    public static final int SET_BACKEND_REQ_FD = 21;
    public static final int IOTLB_MSG = 22;
    public static final int SET_VRING_ENDIAN = 23;
    public static final int GET_CONFIG = 24;
    public static final int SET_CONFIG = 25;
    public static final int GET_INFLIGHT_FD = 31;
    public static final int SET_INFLIGHT_FD = 32;
    public static final int RESET_DEVICE = 34;
    public static final int VRING_KICK = 35;
    public static final int GET_MAX_MEM_SLOTS = 36;
    public static final int ADD_MEM_REG = 37;
    public static final int REM_MEM_REG = 38;
    public static final int SET_STATUS = 39;
    public static final int GET_STATUS = 40;

    // ---- header flags
    /** Bits 0..1: protocol version, always 1. */
    public static final int VERSION = 0x1;
    public static final int VERSION_MASK = 0x3;
    /** Bit 2: this is a reply. */
    public static final int FLAG_REPLY = 0x4;
    /** Bit 3: the front-end wants a REPLY_ACK status (when negotiated). */
    public static final int FLAG_NEED_REPLY = 0x8;
    /** Header: request (u32), flags (u32), size (u32). */
    public static final int HEADER_SIZE = 12;
    /** Largest payload accepted; the biggest message understood (a memory table) is 264 bytes. */
    public static final int MAX_PAYLOAD = 4096;

    // ---- virtio feature bit with a vhost-user meaning
    /** Feature bit 30: the protocol-features extension (GET/SET_PROTOCOL_FEATURES, rings start disabled). */
    public static final int F_PROTOCOL_FEATURES = 30;

    // ---- protocol features
    public static final int PROTOCOL_F_MQ = 0;
    public static final int PROTOCOL_F_LOG_SHMFD = 1;
    public static final int PROTOCOL_F_RARP = 2;
    public static final int PROTOCOL_F_REPLY_ACK = 3;
    public static final int PROTOCOL_F_NET_MTU = 4;
    public static final int PROTOCOL_F_BACKEND_REQ = 5;
    public static final int PROTOCOL_F_CONFIGURE_MEM_SLOTS = 15;

    // ---- payload details
    /** Most regions in one SET_MEM_TABLE (VHOST_MEMORY_BASELINE_NREGIONS). */
    public static final int MAX_MEM_REGIONS = 8;
    /** One {@code VhostUserMemoryRegion}: gpa, size, user address, mmap offset. */
    public static final int MEM_REGION_SIZE = 32;
    /** SET_VRING_KICK/CALL/ERR u64: bits 0..7 the index, bit 8 "no descriptor" (VHOST_USER_VRING_NOFD_MASK). */
    public static final long VRING_IDX_MASK = 0xFF;
    public static final long VRING_NOFD_MASK = 0x100;
    /** SET_VRING_ADDR flags bit 0: log used-ring writes (VHOST_VRING_F_LOG). */
    public static final int VRING_F_LOG = 0x1;

    private VhostUser() {
    }

    public static String requestName(int request) {
        return switch (request) {
            case GET_FEATURES -> "GET_FEATURES";
            case SET_FEATURES -> "SET_FEATURES";
            case SET_OWNER -> "SET_OWNER";
            case RESET_OWNER -> "RESET_OWNER";
            case SET_MEM_TABLE -> "SET_MEM_TABLE";
            case SET_LOG_BASE -> "SET_LOG_BASE";
            case SET_LOG_FD -> "SET_LOG_FD";
            case SET_VRING_NUM -> "SET_VRING_NUM";
            case SET_VRING_ADDR -> "SET_VRING_ADDR";
            case SET_VRING_BASE -> "SET_VRING_BASE";
            case GET_VRING_BASE -> "GET_VRING_BASE";
            case SET_VRING_KICK -> "SET_VRING_KICK";
            case SET_VRING_CALL -> "SET_VRING_CALL";
            case SET_VRING_ERR -> "SET_VRING_ERR";
            case GET_PROTOCOL_FEATURES -> "GET_PROTOCOL_FEATURES";
            case SET_PROTOCOL_FEATURES -> "SET_PROTOCOL_FEATURES";
            case GET_QUEUE_NUM -> "GET_QUEUE_NUM";
            case SET_VRING_ENABLE -> "SET_VRING_ENABLE";
            case SEND_RARP -> "SEND_RARP";
            case NET_SET_MTU -> "NET_SET_MTU";
            case SET_BACKEND_REQ_FD -> "SET_BACKEND_REQ_FD";
            case IOTLB_MSG -> "IOTLB_MSG";
            case SET_VRING_ENDIAN -> "SET_VRING_ENDIAN";
            case GET_CONFIG -> "GET_CONFIG";
            case SET_CONFIG -> "SET_CONFIG";
            case GET_INFLIGHT_FD -> "GET_INFLIGHT_FD";
            case SET_INFLIGHT_FD -> "SET_INFLIGHT_FD";
            case RESET_DEVICE -> "RESET_DEVICE";
            case VRING_KICK -> "VRING_KICK";
            case GET_MAX_MEM_SLOTS -> "GET_MAX_MEM_SLOTS";
            case ADD_MEM_REG -> "ADD_MEM_REG";
            case REM_MEM_REG -> "REM_MEM_REG";
            case SET_STATUS -> "SET_STATUS";
            case GET_STATUS -> "GET_STATUS";
            default -> "request " + request;
        };
    }
}

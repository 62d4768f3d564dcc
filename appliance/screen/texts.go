package screen

// texts are the words of one language. Strings are written correctly
// (with accents); the display transliterates them. Each is short enough
// for a 16-column row where a screen needs it on one row.
type texts struct {
	decimal    string // decimal separator
	dateLayout string // time.Format layout of the date

	defaultSite string // the site screen's title when the site has no name
	wifi        string
	password    string
	setup       string // the title over the setup page's address
	tapCard     string

	chargers, free, inUse string
	of                    string // "%d of %d": free chargers of all
	noChargers            string

	internet string // the uplink screen's title
	uplinks  map[Uplink]string

	cloudLink   string
	cloud       map[CloudLink]string
	offlineNote string

	cardAccepted, cardRefused string
	reasons                   map[RefusalReason]string

	plugIn, choose, connector, connectors string
	connShort                             string // prefix of a connector where space is short

	chargingStarted, charging, chargingStopped string
	energy, power, duration                    string

	fault, charger string
}

// languages are the texts by Config.Language.
var languages = map[string]*texts{
	"en": {
		decimal: ".", dateLayout: "2006-01-02",
		defaultSite: "EV charging", wifi: "Wi-Fi", password: "Password", setup: "Setup page", tapCard: "Tap your card",
		chargers: "Chargers", free: "Free", inUse: "In use", of: "%d of %d",
		noChargers: "No charger connected",
		internet:   "Internet via",
		uplinks: map[Uplink]string{
			UplinkEthernet: "Ethernet", UplinkWiFi: "Wi-Fi", UplinkCellular: "Mobile network", UplinkNone: "No connection",
		},
		cloudLink: "Cloud link",
		cloud: map[CloudLink]string{
			CloudConnected: "Connected", CloudOffline: "Offline", CloudDisabled: "Disabled",
		},
		offlineNote:  "Charging still works",
		cardAccepted: "Card accepted", cardRefused: "Card refused",
		reasons: map[RefusalReason]string{
			RefusedUnknown: "Unknown card", RefusedBlocked: "Card blocked", RefusedExpired: "Card expired",
			RefusedNoFreeConnector: "Connectors busy", RefusedInvalid: "Invalid card",
		},
		plugIn: "Plug in cable", choose: "Choose a connector", connector: "Connector", connectors: "Connectors",
		connShort:       "#",
		chargingStarted: "Charging started", charging: "Charging", chargingStopped: "Charging stopped",
		energy: "Energy", power: "Power", duration: "Duration",
		fault: "Fault", charger: "Charger",
	},
	"es": {
		decimal: ",", dateLayout: "02/01/2006",
		defaultSite: "Punto de recarga", wifi: "Wi-Fi", password: "Contraseña", setup: "Configuración", tapCard: "Acerque tarjeta",
		chargers: "Cargadores", free: "Libres", inUse: "En uso", of: "%d de %d",
		noChargers: "Ningún cargador conectado",
		internet:   "Internet por",
		uplinks: map[Uplink]string{
			UplinkEthernet: "Ethernet", UplinkWiFi: "Wi-Fi", UplinkCellular: "Red móvil", UplinkNone: "Sin conexión",
		},
		cloudLink: "Enlace a la nube",
		cloud: map[CloudLink]string{
			CloudConnected: "Conectado", CloudOffline: "Sin conexión", CloudDisabled: "Desactivado",
		},
		offlineNote:  "La carga funciona",
		cardAccepted: "Tarjeta aceptada", cardRefused: "Tarjeta denegada",
		reasons: map[RefusalReason]string{
			RefusedUnknown: "No registrada", RefusedBlocked: "Bloqueada", RefusedExpired: "Caducada",
			RefusedNoFreeConnector: "Todos ocupados", RefusedInvalid: "No válida",
		},
		plugIn: "Conecte el cable", choose: "Elija un conector", connector: "Conector", connectors: "Conectores",
		connShort:       "#",
		chargingStarted: "Carga iniciada", charging: "Cargando", chargingStopped: "Carga finalizada",
		energy: "Energía", power: "Potencia", duration: "Duración",
		fault: "Avería", charger: "Cargador",
	},
}

// textsFor returns the texts of lang, English for an unknown one.
func textsFor(lang string) *texts {
	if t, ok := languages[lang]; ok {
		return t
	}
	return languages["en"]
}
